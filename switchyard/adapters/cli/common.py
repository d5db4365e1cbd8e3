"""What the CLI's commands share: the application, the actor, and common options."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, TypeVar
from uuid import UUID

import typer

from switchyard.adapters.bootstrap import container
from switchyard.adapters.postgres.persistence import store_errors
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.application.tracing import trace_context

TRACEPARENT_VARIABLE = "TRACEPARENT"
"""The environment variable whose W3C traceparent a command runs in (OpenTelemetry's carrier)."""

T = TypeVar("T")

ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who asks (default: SWITCHYARD_ACTOR or cli:$USER).")
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def with_app(action: Callable[[Switchyard, Settings], T]) -> T:
    """Build the application on the configured store, run `action` in the caller's trace, close.

    A command that starts the embedded database says so on stderr, with its folder.
    """
    settings = Settings()
    with (
        container(settings, announce=lambda line: typer.echo(line, err=True)) as parts,
        store_errors(),
        trace_context(os.environ.get(TRACEPARENT_VARIABLE)),
    ):
        return action(parts.app, settings)


def parse_id(value: str, what: str) -> UUID:
    """A UUID from the command line, or a usage error naming what was expected."""
    try:
        return UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a {what} id (a UUID)") from None
