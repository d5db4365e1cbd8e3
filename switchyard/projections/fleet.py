"""What SREs ask of the fleet: tasks by plan, by tenant, and tenants by version or status.

Plans' tasks page by position and tenants by id, by keyset (the last row's key as
`after`). A caller limited to some tenants passes them as `tenants`: the statement
itself leaves out the others' tasks and tenants. A tenant is *blocked* when its
latest task waits for an older task of the tenant that has not finished
(`tasks.waiting_for`, kept by the roll-ups). Each query's statement is built by a
function of its own (`plan_tasks_query` for `plan_tasks`, ...), so a test can
EXPLAIN the very statement that runs.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    exists,
    select,
)

from switchyard.domain.status import TaskStatus
from switchyard.projections.tables import tasks
from switchyard.projections.tables import tenants as tenant_rows

_CURRENT_FIRST = (
    (TaskStatus.RUNNING, 0),
    (TaskStatus.ROLLING_BACK, 0),
    (TaskStatus.PAUSED, 1),
    (TaskStatus.CREATED, 2),
    (TaskStatus.QUEUED, 2),
)
"""Which of a tenant's tasks is its current one: running, else paused, else waiting."""


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


def _of(tenant_id: Any, limit: Collection[str] | None) -> ColumnElement[bool]:
    """Rows whose tenant is in `limit` (every row when None)."""
    return and_(True) if limit is None else tenant_id.in_(limit)


def plan_tasks_query(
    plan_id: str,
    *,
    status: str | None = None,
    limit: int = 100,
    after: int | None = None,
    tenants: Collection[str] | None = None,
) -> Select[Any]:
    """The statement `plan_tasks` runs."""
    query = select(tasks).where(tasks.c.plan_id == plan_id, _of(tasks.c.tenant_id, tenants))
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
    tenants: Collection[str] | None = None,
) -> list[TaskRow]:
    """A plan's tasks in FIFO order (by position), filtered, the page after position `after`."""
    query = plan_tasks_query(plan_id, status=status, limit=limit, after=after, tenants=tenants)
    return [TaskRow(**row._asdict()) for row in conn.execute(query).all()]


@functools.cache
def get_task_query(limited: bool = False) -> Select[Any]:
    """The statement `get_task` runs, with its values as parameters (`get_task_params`): the
    task's id and, if `limited`, the tenants' ids as one array. Built once per shape, it is
    one statement text whatever the tenants, which the API can also send as it is."""
    query = select(tasks).where(tasks.c.task_id == bindparam("task_id", type_=Text))
    if limited:
        query = query.where(tasks.c.tenant_id == any_(bindparam("tenants", type_=ARRAY(Text))))
    return query


def get_task_params(task_id: str, tenants: Collection[str] | None = None) -> dict[str, Any]:
    """The parameters of `get_task_query(tenants is not None)` for this task and tenants."""
    if tenants is None:
        return {"task_id": task_id}
    return {"task_id": task_id, "tenants": sorted(tenants)}


def get_task(
    conn: Connection, task_id: str, tenants: Collection[str] | None = None
) -> TaskRow | None:
    """The task's row, if the read tables have it (and it is of one of `tenants`, if given)."""
    query = get_task_query(tenants is not None)
    row = conn.execute(query, get_task_params(task_id, tenants)).first()
    return None if row is None else TaskRow(**row._asdict())


def current_task_query(tenant_id: str, tenants: Collection[str] | None = None) -> Select[Any]:
    """The statement `current_task` runs."""
    rank = case(*((tasks.c.status == s, r) for s, r in _CURRENT_FIRST), else_=3)
    oldest = case((rank < 3, tasks.c.created_at))
    return (
        select(tasks)
        .where(tasks.c.tenant_id == tenant_id, _of(tasks.c.tenant_id, tenants))
        .order_by(rank, oldest.asc().nulls_last(), tasks.c.created_at.desc())
        .limit(1)
    )


def current_task(
    conn: Connection, tenant_id: str, tenants: Collection[str] | None = None
) -> TaskRow | None:
    """The tenant's current task, as tenant-addressed commands pick it: the running (or
    rolling back) one, else the oldest paused, else the oldest waiting, else the newest."""
    row = conn.execute(current_task_query(tenant_id, tenants)).first()
    return None if row is None else TaskRow(**row._asdict())


def list_tenants_query(
    *,
    version: str | None = None,
    service_type: str | None = None,
    status: str | None = None,
    blocked: bool = False,
    limit: int = 100,
    after: str | None = None,
    tenant_id: str | None = None,
    tenants: Collection[str] | None = None,
) -> Select[Any]:
    """The statement `list_tenants` runs (`get_tenant`'s too, given `tenant_id`)."""
    latest, waiting = tasks.alias("latest"), tasks.alias("waiting")
    # The latest task's waiting_for is read per row listed (after the limit), so the
    # tenants' own indexes drive the query instead of a join with every task.
    blocked_by = select(latest.c.waiting_for).where(latest.c.task_id == tenant_rows.c.latest_task)
    query = select(tenant_rows, blocked_by.scalar_subquery().label("blocked_by")).where(
        tenant_rows.c.latest_task.is_not(None), _of(tenant_rows.c.tenant_id, tenants)
    )
    if tenant_id is not None:
        query = query.where(tenant_rows.c.tenant_id == tenant_id)
    if version is not None:
        query = query.where(tenant_rows.c.version == version)
    if service_type is not None:
        query = query.where(tenant_rows.c.service_type == service_type)
    if status is not None:
        query = query.where(tenant_rows.c.latest_task_status == status)
    if blocked:
        # The latest task is one of the tenant's: matching its tenant too lets the waiting
        # tasks' index (by tenant) find the blocked tenants when few tasks wait.
        query = query.where(
            exists().where(
                waiting.c.task_id == tenant_rows.c.latest_task,
                waiting.c.tenant_id == tenant_rows.c.tenant_id,
                waiting.c.waiting_for.is_not(None),
            )
        )
    if after is not None:
        query = query.where(tenant_rows.c.tenant_id > after)
    return query.order_by(tenant_rows.c.tenant_id).limit(limit)


def list_tenants(
    conn: Connection,
    *,
    version: str | None = None,
    service_type: str | None = None,
    status: str | None = None,
    blocked: bool = False,
    limit: int = 100,
    after: str | None = None,
    tenants: Collection[str] | None = None,
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
        tenants=tenants,
    )
    return [TenantRow(**row._asdict()) for row in conn.execute(query).all()]


def get_tenant(
    conn: Connection, tenant_id: str, tenants: Collection[str] | None = None
) -> TenantRow | None:
    """The tenant's row, if it has a task (and is one of `tenants`, if given)."""
    row = conn.execute(list_tenants_query(tenant_id=tenant_id, tenants=tenants)).first()
    return None if row is None else TenantRow(**row._asdict())
