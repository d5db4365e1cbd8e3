"""What SREs ask of the fleet: tasks by plan, by tenant, and tenants by version or status.

Plans' tasks page by position and tenants by id, by keyset (the last row's key as
`after`). A tenant is *blocked* when its latest task waits for an older task of
the tenant that has not finished (`tasks.waiting_for`, kept by the roll-ups). Each
query's statement is built by a function of its own (`plan_tasks_query` for
`plan_tasks`, ...), so a test can EXPLAIN the very statement that runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, exists, select

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


def plan_tasks_query(
    plan_id: str, *, status: str | None = None, limit: int = 100, after: int | None = None
) -> Select[Any]:
    """The statement `plan_tasks` runs."""
    query = select(tasks).where(tasks.c.plan_id == plan_id)
    if status is not None:
        query = query.where(tasks.c.status == status)
    if after is not None:
        query = query.where(tasks.c.position > after)
    return query.order_by(tasks.c.position).limit(limit)


def plan_tasks(
    conn: Connection,
    plan_id: str,
    *,
    status: str | None = None,
    limit: int = 100,
    after: int | None = None,
) -> list[TaskRow]:
    """A plan's tasks in FIFO order (by position), filtered, the page after position `after`."""
    query = plan_tasks_query(plan_id, status=status, limit=limit, after=after)
    return [TaskRow(**row._asdict()) for row in conn.execute(query).all()]


def get_task_query(task_id: str) -> Select[Any]:
    """The statement `get_task` runs."""
    return select(tasks).where(tasks.c.task_id == task_id)


def get_task(conn: Connection, task_id: str) -> TaskRow | None:
    """The task's row, if the read tables have it."""
    row = conn.execute(get_task_query(task_id)).first()
    return None if row is None else TaskRow(**row._asdict())


def list_tenants_query(
    *,
    version: str | None = None,
    service_type: str | None = None,
    status: str | None = None,
    blocked: bool = False,
    limit: int = 100,
    after: str | None = None,
) -> Select[Any]:
    """The statement `list_tenants` runs."""
    latest, waiting = tasks.alias("latest"), tasks.alias("waiting")
    # The latest task's waiting_for is read per row listed (after the limit), so the
    # tenants' own indexes drive the query instead of a join with every task.
    blocked_by = select(latest.c.waiting_for).where(latest.c.task_id == tenants.c.latest_task)
    query = select(tenants, blocked_by.scalar_subquery().label("blocked_by")).where(
        tenants.c.latest_task.is_not(None)
    )
    if version is not None:
        query = query.where(tenants.c.version == version)
    if service_type is not None:
        query = query.where(tenants.c.service_type == service_type)
    if status is not None:
        query = query.where(tenants.c.latest_task_status == status)
    if blocked:
        # The latest task is one of the tenant's: matching its tenant too lets the waiting
        # tasks' index (by tenant) find the blocked tenants when few tasks wait.
        query = query.where(
            exists().where(
                waiting.c.task_id == tenants.c.latest_task,
                waiting.c.tenant_id == tenants.c.tenant_id,
                waiting.c.waiting_for.is_not(None),
            )
        )
    if after is not None:
        query = query.where(tenants.c.tenant_id > after)
    return query.order_by(tenants.c.tenant_id).limit(limit)


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
    query = list_tenants_query(
        version=version,
        service_type=service_type,
        status=status,
        blocked=blocked,
        limit=limit,
        after=after,
    )
    return [TenantRow(**row._asdict()) for row in conn.execute(query).all()]
