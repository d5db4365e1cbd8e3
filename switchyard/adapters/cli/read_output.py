"""How the CLI prints what the read tables hold: plans, tasks, tenants and audit rows."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.table import Table

from switchyard.adapters.api import representation
from switchyard.adapters.cli.output import console
from switchyard.projections.fleet import TaskRow, TenantRow
from switchyard.projections.queries import AuditRow, PlanCursor, PlanRow


def parse_plan_cursor(value: str) -> PlanCursor:
    """The plan list's cursor `plan list` printed, or a usage error."""
    try:
        return representation.parse_plan_cursor(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a cursor `plan list` printed") from None


QUIET_FIELDS = frozenset({"timestamp", "originator_topic"})
"""Payload fields the audit table leaves out (they are in its own columns or --json)."""


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")


def show_plan_rows(rows: list[PlanRow]) -> None:
    """Print plans, one row each."""
    table = Table("plan", "name", "status", "tasks", "stages", "by", "created", show_edge=False)
    for row in rows:
        table.add_row(
            row.plan_id,
            row.name or "",
            row.status,
            str(row.tasks_total),
            f"{row.stages_done}/{row.stages_total}",
            row.created_by or "",
            _time(row.created_at),
        )
    console.print(table)


def show_plan_summary(row: PlanRow) -> None:
    """Print a plan's status, progress and counts of tasks by status."""
    counts = ", ".join(f"{count} {status}" for status, count in row.task_counts.items())
    console.print(
        f"plan [bold]{row.plan_id}[/] ({row.name}): [bold]{row.status}[/], "
        f"{row.tasks_total} tasks ({counts}), max concurrency {row.max_concurrency}, "
        f"{row.stages_done}/{row.stages_total} stages done; created by {row.created_by} "
        f"at {_time(row.created_at)}, finished {_time(row.finished_at)}",
        highlight=False,
    )


def show_task_rows(rows: list[TaskRow]) -> None:
    """Print tasks in FIFO order, one row each."""
    table = Table("#", "tenant", "task", "status", "stages", "message", show_edge=False)
    for row in rows:
        message = row.failure_message or (
            f"waits for task {row.waiting_for}" if row.waiting_for else ""
        )
        table.add_row(
            str(row.position),
            row.tenant_id,
            row.task_id,
            row.status,
            f"{row.completed_stages}/{row.total_stages}",
            message,
        )
    console.print(table)


def show_tenant_rows(rows: list[TenantRow]) -> None:
    """Print tenants: version, latest task and what blocks them."""
    table = Table(
        "tenant", "service type", "version", "latest task", "status", "blocked by", show_edge=False
    )
    for row in rows:
        table.add_row(
            row.tenant_id,
            row.service_type or "",
            row.version or "-",
            row.latest_task or "",
            row.latest_task_status or "",
            row.blocked_by or "",
        )
    console.print(table)


def show_audit_rows(rows: list[AuditRow]) -> None:
    """Print audit rows: sequence, time, actor, event, aggregate and fields."""
    table = Table("seq", "time", "actor", "event", "tenant", "aggregate", show_edge=False)
    table.add_column("fields", no_wrap=True, overflow="ellipsis", max_width=60)
    for row in rows:
        fields = {k: v for k, v in row.payload.items() if k not in QUIET_FIELDS}
        table.add_row(
            str(row.sequence),
            _time(row.time),
            row.actor or "",
            f"{row.aggregate_type}.{row.event_type}",
            row.tenant_id or "",
            row.aggregate_id,
            json.dumps(fields, default=str, separators=(",", ":")),
        )
    console.print(table)
