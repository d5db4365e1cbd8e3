"""The `switchyard` command: one CLI for every role and for operators.

Errors print their code and message and exit non-zero; never a traceback
(set SWITCHYARD_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from switchyard.adapters.cli import (
    api,
    db,
    demo,
    dev,
    events,
    fleet,
    plans,
    projector,
    remote,
    roles,
    tail,
    tasks,
)
from switchyard.adapters.cli.output import fail
from switchyard.adapters.settings import settings_invalid
from switchyard.domain.errors import SwitchyardError

app = typer.Typer(
    name="switchyard",
    help="Run and steer multi-tenant blue-green switch-overs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api",
            envvar="SWITCHYARD_API",
            help="Talk to the API at this URL (token: SWITCHYARD_TOKEN) instead of the "
            "database: plan, task, tenants and audit.",
        ),
    ] = None,
) -> None:
    """Run and steer multi-tenant blue-green switch-overs."""
    remote.API_URL.set(api_url)


app.add_typer(db.app, name="db")
app.add_typer(plans.app, name="plan")
app.add_typer(tasks.app, name="task")
app.add_typer(events.app, name="events")
app.add_typer(projector.app, name="projector")
app.add_typer(api.tokens, name="token")
app.command("api")(api.api)
app.command("dev")(dev.dev)
app.command("scheduler")(roles.scheduler)
app.command("relay")(roles.relay)
app.command("demo")(demo.demo)
app.command("tail")(tail.tail_command)
app.command("tenants")(fleet.tenants)
app.command("audit")(fleet.audit_command)


def run() -> None:
    """Entry point of the console script."""
    try:
        app()
    except SwitchyardError as exc:
        fail(exc)
    except ValidationError as exc:
        fail(settings_invalid(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SWITCHYARD_DEBUG"):
            raise
        typer.echo(f"error [internal]: {type(exc).__name__}: {exc}", err=True)
        sys.exit(70)
