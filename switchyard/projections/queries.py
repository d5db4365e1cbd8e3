"""What SREs ask of the read tables: plans newest first, and the audit trail.

Both page by keyset (the last row's key as `after`), never by offset, so a page
costs the same however deep it is, and each filter has an index (revision 0002).
Rows come back as frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, tuple_

from switchyard.projections.tables import audit as audit_table
from switchyard.projections.tables import plans


@dataclass(frozen=True)
class PlanRow:
    """One plan as listed: its status, counts and progress."""

    plan_id: str
    name: str | None
    status: str
    task_counts: Mapping[str, int]
    tasks_total: int
    stages_done: int
    stages_total: int
    max_concurrency: int | None
    created_by: str | None
    created_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class PlanCursor:
    """Where a page of plans ended: the last plan's creation time and id."""

    created_at: datetime
    plan_id: str


@dataclass(frozen=True)
class AuditRow:
    """One event in the audit trail."""

    sequence: int
    time: datetime
    actor: str | None
    aggregate_type: str
    aggregate_id: str
    version: int
    event_type: str
    tenant_id: str | None
    plan_id: str | None
    traceparent: str | None
    payload: Mapping[str, Any]


def get_plan(conn: Connection, plan_id: str) -> PlanRow | None:
    """The plan's row (status, counts, progress), if the read tables have it."""
    row = conn.execute(select(plans).where(plans.c.plan_id == plan_id)).first()
    return None if row is None else PlanRow(**row._asdict())


def list_plans(
    conn: Connection,
    *,
    status: str | None = None,
    since: datetime | None = None,
    actor: str | None = None,
    limit: int = 50,
    after: PlanCursor | None = None,
) -> list[PlanRow]:
    """Plans newest first, filtered, the page after `after`."""
    query = select(plans).where(plans.c.created_at.is_not(None))
    if status is not None:
        query = query.where(plans.c.status == status)
    if since is not None:
        query = query.where(plans.c.created_at >= since)
    if actor is not None:
        query = query.where(plans.c.created_by == actor)
    if after is not None:
        key = tuple_(plans.c.created_at, plans.c.plan_id)
        query = query.where(key < tuple_(after.created_at, after.plan_id))
    query = query.order_by(plans.c.created_at.desc(), plans.c.plan_id.desc()).limit(limit)
    return [PlanRow(**row._asdict()) for row in conn.execute(query).all()]


def audit(
    conn: Connection,
    *,
    task: str | None = None,
    tenant: str | None = None,
    plan: str | None = None,
    actor: str | None = None,
    type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    after: int | None = None,
    oldest_first: bool = False,
) -> list[AuditRow]:
    """Events newest first (or oldest first), filtered, the page after sequence `after`."""
    c = audit_table.c
    filters: list[tuple[object, Callable[[], ColumnElement[bool]]]] = [
        (task, lambda: c.aggregate_id == task),
        (tenant, lambda: c.tenant_id == tenant),
        (plan, lambda: c.plan_id == plan),
        (actor, lambda: c.actor == actor),
        (type, lambda: or_(c.event_type == type, c.aggregate_type + "." + c.event_type == type)),
        (since, lambda: c.time >= since),
        (until, lambda: c.time < until),
    ]
    conditions = [condition() for given, condition in filters if given is not None]
    if after is not None:
        conditions.append(c.sequence > after if oldest_first else c.sequence < after)
    order = c.sequence.asc() if oldest_first else c.sequence.desc()
    query = select(audit_table).where(and_(True, *conditions)).order_by(order).limit(limit)
    return [AuditRow(**row._asdict()) for row in conn.execute(query).all()]
