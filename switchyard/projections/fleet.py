"""What SREs ask of the fleet: tasks by plan, by tenant, and tenants by version or status.

Plans' tasks page by position and tenants by id, by keyset (the last row's key as
`after`). A tenant is *blocked* when its latest task waits for an older task of
the tenant that has not finished (`tasks.waiting_for`, kept by the roll-ups).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from switchyard.projections.tables import tasks, tenants


@dataclass(frozen=True)
class TaskRow:
    """One task as the read tables hold it."""

    task_id: str
    plan_id: str
    tenant_id: str
    position: int
    service_type: str
    target_version: str
    status: str
    current_stage: str | None
    completed_stages: int
    total_stages: int
    pause_requested: bool
    cancel_requested: bool
    attempt: int
    failed_stage: str | None
    failure_message: str | None
    has_checkpoint: bool
    owner: str | None
    fence: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    waiting_for: str | None


@dataclass(frozen=True)
class TenantRow:
    """One tenant: the version it was last switched to, its latest task, what blocks it."""

    tenant_id: str
    service_type: str | None
    version: str | None
    switched_by_task: str | None
    latest_task: str | None
    latest_task_status: str | None
    blocked_by: str | None


def plan_tasks(
    conn: Connection,
    plan_id: str,
    *,
    status: str | None = None,
    limit: int = 100,
    after: int | None = None,
) -> list[TaskRow]:
    """A plan's tasks in FIFO order (by position), filtered, the page after position `after`."""
    query = select(tasks).where(tasks.c.plan_id == plan_id)
    if status is not None:
        query = query.where(tasks.c.status == status)
    if after is not None:
        query = query.where(tasks.c.position > after)
    query = query.order_by(tasks.c.position).limit(limit)
    return [TaskRow(**row._asdict()) for row in conn.execute(query).all()]


def get_task(conn: Connection, task_id: str) -> TaskRow | None:
    """The task's row, if the read tables have it."""
    row = conn.execute(select(tasks).where(tasks.c.task_id == task_id)).first()
    return None if row is None else TaskRow(**row._asdict())


def list_tenants(
    conn: Connection,
    *,
    version: str | None = None,
    service_type: str | None = None,
    status: str | None = None,
    blocked: bool = False,
    limit: int = 100,
    after: str | None = None,
) -> list[TenantRow]:
    """Tenants by id, filtered by version, service type, their latest task's status, or
    being blocked; the page after tenant `after`."""
    latest = tasks.alias("latest")
    query = (
        select(tenants, latest.c.waiting_for.label("blocked_by"))
        .select_from(tenants.outerjoin(latest, latest.c.task_id == tenants.c.latest_task))
        .where(tenants.c.latest_task.is_not(None))
    )
    if version is not None:
        query = query.where(tenants.c.version == version)
    if service_type is not None:
        query = query.where(tenants.c.service_type == service_type)
    if status is not None:
        query = query.where(tenants.c.latest_task_status == status)
    if blocked:
        query = query.where(latest.c.waiting_for.is_not(None))
    if after is not None:
        query = query.where(tenants.c.tenant_id > after)
    query = query.order_by(tenants.c.tenant_id).limit(limit)
    return [TenantRow(**row._asdict()) for row in conn.execute(query).all()]
