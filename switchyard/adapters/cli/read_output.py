"""How the CLI prints what the read tables hold: plans, tasks, tenants and audit events, in
the API's models, so a page read from the tables and one the API answered print alike
(with --json, exactly the API's body)."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import typer
from rich.table import Table

from switchyard.adapters.api import representation
from switchyard.adapters.api.read_schemas import (
    AuditEventOut,
    AuditPageOut,
    PlanDetailOut,
    PlanOut,
    PlanPageOut,
    TaskOut,
    TenantOut,
    TenantPageOut,
)
from switchyard.adapters.cli.output import console, print_json
from switchyard.projections.queries import PlanCursor


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


def show_plan_rows(rows: list[PlanOut]) -> None:
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


def show_plan_summary(row: PlanOut) -> None:
    """Print a plan's status, progress and counts of tasks by status."""
    counts = ", ".join(f"{count} {status}" for status, count in row.task_counts.items())
    console.print(
        f"plan [bold]{row.plan_id}[/] ({row.name}): [bold]{row.status}[/], "
        f"{row.tasks_total} tasks ({counts}), max concurrency {row.max_concurrency}, "
        f"{row.stages_done}/{row.stages_total} stages done; created by {row.created_by} "
        f"at {_time(row.created_at)}, finished {_time(row.finished_at)}",
        highlight=False,
    )


def show_task_rows(rows: list[TaskOut]) -> None:
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


def show_task_row(task: TaskOut) -> None:
    """Print one task as the read tables have it: status, stage, progress, what blocks it."""
    flags = [
        name
        for name, on in (
            ("pause requested", task.pause_requested),
            ("cancel requested", task.cancel_requested),
        )
        if on
    ]
    table = Table(show_header=False, show_edge=False)
    for key, value in (
        ("task", task.task_id),
        ("tenant", task.tenant_id),
        ("plan", task.plan_id),
        ("status", task.status),
        ("stage", task.current_stage or "-"),
        ("progress", f"{task.completed_stages}/{task.total_stages} stages"),
        ("target version", task.target_version),
        ("attempt", task.attempt),
        ("checkpoint", "yes" if task.has_checkpoint else "no"),
        ("flags", ", ".join(flags) or "-"),
        ("failed stage", task.failed_stage or "-"),
        ("message", task.failure_message or "-"),
        ("waiting for", f"task {task.waiting_for}" if task.waiting_for else "-"),
    ):
        table.add_row(key, str(value))
    console.print(table)


def show_tenant_rows(rows: list[TenantOut]) -> None:
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


AUDIT_WIDE_COLUMNS = 150
"""From this terminal width on, the audit table also shows each event's aggregate id and
its time's year."""

AUDIT_MIN_FIELDS, AUDIT_MAX_FIELDS = 16, 60
"""The narrowest and widest the audit table's fields column is drawn."""


def show_audit_rows(rows: list[AuditEventOut]) -> None:
    """Print audit rows: sequence, time, actor, event, tenant, (aggregate,) and fields;
    the fields are cut to what the terminal leaves them (`--json` has everything)."""
    wide = console.width >= AUDIT_WIDE_COLUMNS
    names = ["seq", "time", "actor", "event", "tenant", *(["aggregate"] if wide else [])]
    cells = [
        [
            str(row.sequence),
            row.time.strftime("%Y-%m-%d %H:%M:%S" if wide else "%m-%d %H:%M:%S"),
            row.actor or "",
            f"{row.aggregate_type}.{row.event_type}",
            row.tenant_id or "",
            *([row.aggregate_id] if wide else []),
        ]
        for row in rows
    ]
    used = sum(max(len(c) for c in column) + 3 for column in zip(names, *cells, strict=True))
    table = Table(*names, show_edge=False)
    left = max(AUDIT_MIN_FIELDS, min(AUDIT_MAX_FIELDS, console.width - used - 1))
    table.add_column("fields", no_wrap=True, overflow="ellipsis", max_width=left)
    for row, shown in zip(rows, cells, strict=True):
        if row.payload is None:
            table.add_row(*shown, f"(large: --sequence {row.sequence})")
            continue
        fields = {k: v for k, v in row.payload.items() if k not in QUIET_FIELDS}
        table.add_row(*shown, json.dumps(fields, default=str, separators=(",", ":")))
    console.print(table)


def _next_page(following: object) -> None:
    if following is not None:
        console.print(f"next page: --after {following}", highlight=False)


def print_plan_page(page: PlanPageOut, as_json: bool) -> None:
    """Print a page of plans (the API's body with --json) and the cursor of the next."""
    if as_json:
        print_json(page)
        return
    show_plan_rows(page.plans)
    _next_page(page.next)


def print_plan_detail(detail: PlanDetailOut, as_json: bool) -> None:
    """Print a plan and a page of its tasks (the API's body with --json)."""
    if as_json:
        print_json(detail)
        return
    show_plan_summary(detail.plan)
    show_task_rows(detail.tasks)
    _next_page(detail.next)


def print_tenant_page(page: TenantPageOut, as_json: bool) -> None:
    """Print a page of tenants (the API's body with --json) and the tenant to page after."""
    if as_json:
        print_json(page)
        return
    show_tenant_rows(page.tenants)
    _next_page(page.next)


def print_audit_event(event: AuditEventOut, as_json: bool) -> None:
    """Print one audit event (the API's body with --json): its row, then its whole payload."""
    if as_json:
        print_json(event)
        return
    show_audit_rows([event.model_copy(update={"payload": {}})])
    sys.stdout.write(json.dumps(event.payload, indent=2, default=str) + "\n")


def print_audit_page(page: AuditPageOut, as_json: bool) -> None:
    """Print a page of audit events (the API's body with --json) and the sequence after."""
    if as_json:
        print_json(page)
        return
    show_audit_rows(page.events)
    _next_page(page.next)
