"""The read side's rows as the API's JSON: one mapping for the API's answers and the
CLI's `--json`, so that a list command prints exactly the body of its route.

A page's `next` is set when the page is full: plans page by a cursor of creation time
and id, a plan's tasks by position, tenants by id and audit events by sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from switchyard.adapters.api.read_schemas import (
    AuditEventOut,
    AuditPageOut,
    CheckpointOut,
    PlanDetailOut,
    PlanOut,
    PlanPageOut,
    TaskOut,
    TenantOut,
    TenantPageOut,
)
from switchyard.projections.fleet import TaskRow, TenantRow
from switchyard.projections.queries import AuditRow, PlanCursor, PlanRow

CURSOR_SEPARATOR = "~"
"""Between the creation time and the id in a plan list's cursor."""


def plan_cursor(row: PlanRow) -> str:
    """The cursor of the page after this plan (its creation time and id)."""
    created = row.created_at.isoformat() if row.created_at else ""
    return f"{created}{CURSOR_SEPARATOR}{row.plan_id}"


def parse_plan_cursor(value: str) -> PlanCursor:
    """The cursor `plan_cursor` made; ValueError if `value` is not one."""
    created, _, plan_id = value.rpartition(CURSOR_SEPARATOR)
    if not plan_id:
        raise ValueError(f"{value!r} is not a plan cursor")
    return PlanCursor(datetime.fromisoformat(created), plan_id)


def plan_page(rows: Sequence[PlanRow], limit: int) -> PlanPageOut:
    """A page of plans, with the cursor of the next page if this one is full."""
    following = plan_cursor(rows[-1]) if rows and len(rows) == limit else None
    return PlanPageOut(plans=[PlanOut.model_validate(r) for r in rows], next=following)


def plan_detail(plan: PlanRow, tasks: Sequence[TaskRow], limit: int) -> PlanDetailOut:
    """A plan with a page of its tasks, and the position to page after if the page is full."""
    following = tasks[-1].position if tasks and len(tasks) == limit else None
    return PlanDetailOut(
        plan=PlanOut.model_validate(plan),
        tasks=[TaskOut.model_validate(t) for t in tasks],
        next=following,
    )


def tenant_page(rows: Sequence[TenantRow], limit: int) -> TenantPageOut:
    """A page of tenants, with the tenant id to page after if this one is full."""
    following = rows[-1].tenant_id if rows and len(rows) == limit else None
    return TenantPageOut(tenants=[TenantOut.model_validate(r) for r in rows], next=following)


def audit_page(rows: Sequence[AuditRow], limit: int) -> AuditPageOut:
    """A page of audit events, with the sequence to page after if this one is full."""
    following = rows[-1].sequence if rows and len(rows) == limit else None
    return AuditPageOut(events=[audit_event(row) for row in rows], next=following)


def audit_event(row: AuditRow) -> AuditEventOut:
    """One audit event as the API shows it, `payloadOmitted` where a page left it out."""
    return AuditEventOut.model_validate({**vars(row), "payload_omitted": row.payload is None})


def checkpoint(task: TaskRow) -> CheckpointOut:
    """Whether a tenant's current task has a checkpoint a retry can start from."""
    return CheckpointOut(
        tenant_id=task.tenant_id, has_checkpoint=task.has_checkpoint, task_id=task.task_id
    )
