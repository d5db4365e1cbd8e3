"""How the CLI shows results and errors (rich tables, or JSON with --json)."""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import Enum
from typing import Any, NoReturn
from uuid import UUID

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from switchyard.application.views import HistoryEntry, TaskView
from switchyard.domain.errors import ApiAnswered, Invalid, SwitchyardError

console = Console()
errors = Console(stderr=True)


def _plain(value: Any) -> Any:
    """JSON-ready data: a dataclass's fields in camelCase; a mapping's keys as they are."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {to_camel(f.name): _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, UUID | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    """Print any view as JSON, as the API shows it: camelCase names (an API model by its
    aliases, a dataclass's fields renamed; a mapping's own keys, such as an event's fields,
    kept), ids as strings, times as ISO 8601."""
    sys.stdout.write(json.dumps(_plain(value), indent=2, default=str) + "\n")


def fail(exc: SwitchyardError) -> NoReturn:
    """Print an error's code and message (and each problem of an invalid request); exit 1."""
    code = exc.problem_code if isinstance(exc, ApiAnswered) else exc.code
    errors.print(
        f"[bold red]error[/] {escape(f'[{code}]')}: {escape(exc.message)}", highlight=False
    )
    if isinstance(exc, Invalid | ApiAnswered) and exc.problems:
        table = Table("field", "code", "problem", show_edge=False)
        for problem in exc.problems:
            table.add_row(problem.field, problem.code, problem.message)
        errors.print(table)
    sys.exit(1)


def show_task(view: TaskView) -> None:
    """Print a task's status and progress."""
    done = len(view.completed_stages)
    flags = [
        f
        for f, on in (
            ("pause requested", view.pause_requested),
            ("cancel requested", view.cancel_requested),
        )
        if on
    ]
    table = Table(show_header=False, show_edge=False)
    for key, value in (
        ("task", view.task_id),
        ("tenant", view.tenant_id),
        ("plan", view.plan_id),
        ("status", view.status.value),
        ("stage", view.current_stage or "-"),
        ("progress", f"{done}/{view.total_stages} stages ({', '.join(view.stage_names)})"),
        ("target version", view.target_version),
        ("attempt", view.attempt),
        ("checkpoint", "yes" if view.has_checkpoint else "no"),
        ("flags", ", ".join(flags) or "-"),
        ("failed stage", view.failed_stage or "-"),
        ("message", view.message or "-"),
        ("waiting for", _waiting_for(view)),
    ):
        table.add_row(key, str(value))
    console.print(table)


def _waiting_for(view: TaskView) -> str:
    ref = view.waiting_for
    return "-" if ref is None else f"task {ref.task_id} of plan {ref.plan_id}"


def show_history(entries: list[HistoryEntry]) -> None:
    """Print an aggregate's events, oldest first."""
    table = Table("v", "time", "event", "fields", show_edge=False)
    for entry in entries:
        fields = ", ".join(f"{k}={_plain(v)}" for k, v in entry.fields.items() if k != "stages")
        table.add_row(str(entry.version), entry.timestamp.isoformat(), entry.type, fields)
    console.print(table)
