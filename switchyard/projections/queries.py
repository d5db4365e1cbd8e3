"""What SREs ask of the read tables: plans newest first, and the audit trail.

Both page by keyset (the last row's key as `after`), never by offset, so a page
costs the same however deep it is, and each filter has an index (revisions 0002 to
0004). A caller limited to some tenants passes them as `tenants`: the statement
itself leaves out what they may not see (a plan is seen when one of its tasks is;
an event when its tenant is). Each query's statement is built by a function of its
own (`audit_query` for `audit`, ...), so a test can EXPLAIN the very statement that
runs.
Rows come back as frozen dataclasses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    UnaryExpression,
    and_,
    case,
    exists,
    func,
    literal,
    select,
    tuple_,
)

from switchyard.projections.rollups import ROLLUP_COLUMNS, rollup
from switchyard.projections.tables import audit as audit_table
from switchyard.projections.tables import plans, tasks


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


PAGE_PAYLOAD_BYTES = 4_096
"""Audit pages leave out a payload stored larger than this: a plan's `Created` lists every
task, and a page of a hundred big plans' would be megabytes to read, send and show.
`audit_event_row` reads one event whole."""


@dataclass(frozen=True)
class AuditRow:
    """One event in the audit trail; in a page, `payload` is None where it was too large
    (`PAGE_PAYLOAD_BYTES`)."""

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
    payload: Mapping[str, Any] | None


def _seen(tenants: Collection[str] | None) -> ColumnElement[bool]:
    """Plans with a task for one of these tenants (every plan when None)."""
    if tenants is None:
        return and_(True)
    return exists().where(tasks.c.plan_id == plans.c.plan_id, tasks.c.tenant_id.in_(tenants))


def get_plan_query(plan_id: str, tenants: Collection[str] | None = None) -> Select[Any]:
    """The statement `get_plan` runs."""
    return select(plans).where(plans.c.plan_id == plan_id, _seen(tenants))


def get_plan(
    conn: Connection, plan_id: str, tenants: Collection[str] | None = None
) -> PlanRow | None:
    """The plan's row (status, counts, progress), if the read tables have it (and it has a
    task for one of `tenants`, if given: then its status, counts and progress are those of
    their tasks)."""
    row = conn.execute(get_plan_query(plan_id, tenants)).first()
    return None if row is None else as_seen_by(conn, [PlanRow(**row._asdict())], tenants)[0]


def list_plans_query(
    *,
    status: str | None = None,
    since: datetime | None = None,
    actor: str | None = None,
    limit: int = 50,
    after: PlanCursor | None = None,
    tenants: Collection[str] | None = None,
) -> Select[Any]:
    """The statement `list_plans` runs."""
    query = select(plans).where(plans.c.created_at.is_not(None), _seen(tenants))
    if status is not None:
        query = query.where(plans.c.status == status)
    if since is not None:
        query = query.where(plans.c.created_at >= since)
    if actor is not None:
        query = query.where(plans.c.created_by == actor)
    if after is not None:
        key = tuple_(plans.c.created_at, plans.c.plan_id)
        query = query.where(key < tuple_(after.created_at, after.plan_id))
    return query.order_by(plans.c.created_at.desc(), plans.c.plan_id.desc()).limit(limit)


def list_plans(
    conn: Connection,
    *,
    status: str | None = None,
    since: datetime | None = None,
    actor: str | None = None,
    limit: int = 50,
    after: PlanCursor | None = None,
    tenants: Collection[str] | None = None,
) -> list[PlanRow]:
    """Plans newest first, filtered, the page after `after`."""
    query = list_plans_query(
        status=status, since=since, actor=actor, limit=limit, after=after, tenants=tenants
    )
    return as_seen_by(
        conn, [PlanRow(**row._asdict()) for row in conn.execute(query).all()], tenants
    )


def as_seen_by(
    conn: Connection, found: list[PlanRow], tenants: Collection[str] | None
) -> list[PlanRow]:
    """The plans as a reader limited to `tenants` sees them: status, counts, progress and
    end rolled up from those tenants' tasks only (one query for the page); all as they are
    when `tenants` is None."""
    if tenants is None or not found:
        return found
    visible = conn.execute(
        select(tasks.c.plan_id, *ROLLUP_COLUMNS)
        .where(
            tasks.c.plan_id.in_([plan.plan_id for plan in found]), tasks.c.tenant_id.in_(tenants)
        )
        .group_by(tasks.c.plan_id, tasks.c.status)
    ).all()
    by_plan: dict[str, list[Any]] = defaultdict(list)
    for row in visible:
        by_plan[row.plan_id].append(row)
    return [replace(plan, **rollup(by_plan[plan.plan_id])) for plan in found]


def _of_type(
    type: str, after: int | None, oldest_first: bool
) -> tuple[list[ColumnElement[bool]], list[UnaryExpression[Any]]]:
    """Events of this type, a bare event type or one aggregate's (`Task.StageFailed`),
    from `after` on: the conditions, and the order that reads them from the type's index.

    Neither aggregate types nor event types hold a dot, so the split is exact. The type
    is written as a range (`event_type >= T AND event_type <= T`) and leads the order:
    written as an equality, PostgreSQL drops it from the order and may read the whole
    log backwards for the newest events of a type it takes for common, which, when they
    are all old (a big plan's `Created`), took a hundred times as long as reading the
    type's index. Each column is bounded on its own (PostgreSQL estimates a comparison
    of rows poorly); `after` is a row comparison, where that index starts reading."""
    c = audit_table.c
    aggregate_type, _, event_type = type.rpartition(".")
    columns = [c.aggregate_type, c.event_type] if aggregate_type else [c.event_type]
    values = [aggregate_type, event_type] if aggregate_type else [event_type]
    conditions = [
        bound
        for column, value in zip(columns, values, strict=True)
        for bound in (column >= value, column <= value)
    ]
    if after is not None:
        row, at = tuple_(*columns, c.sequence), tuple_(*(literal(v) for v in values), after)
        conditions.append(row > at if oldest_first else row < at)
    keys = (*columns, c.sequence)
    return conditions, [k.asc() for k in keys] if oldest_first else [k.desc() for k in keys]


def audit_query(
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
    tenants: Collection[str] | None = None,
) -> Select[Any]:
    """The statement `audit` runs."""
    c = audit_table.c
    filters: list[tuple[object, Callable[[], ColumnElement[bool]]]] = [
        (task, lambda: c.aggregate_id == task),
        (tenant, lambda: c.tenant_id == tenant),
        (plan, lambda: c.plan_id == plan),
        (actor, lambda: c.actor == actor),
        (since, lambda: c.time >= since),
        (until, lambda: c.time < until),
    ]
    conditions = [condition() for given, condition in filters if given is not None]
    if tenants is not None:
        conditions.append(c.tenant_id.in_(tenants))
    order = [c.sequence.asc() if oldest_first else c.sequence.desc()]
    if type is not None:
        typed, order = _of_type(type, after, oldest_first)
        conditions += typed
    elif after is not None:
        conditions.append(c.sequence > after if oldest_first else c.sequence < after)
    return select(*_page_columns()).where(and_(True, *conditions)).order_by(*order).limit(limit)


def _page_columns() -> list[ColumnElement[Any]]:
    """An `AuditRow`'s columns in its fields' order (rows are built by position), the
    payload left out (NULL) where it is stored larger than `PAGE_PAYLOAD_BYTES` (its
    stored size is read from its header: nothing is decompressed)."""
    payload = audit_table.c.payload
    small = func.pg_column_size(payload) <= PAGE_PAYLOAD_BYTES
    return [case((small, payload)).label("payload") if c is payload else c for c in _AUDIT_ROW]


_AUDIT_ROW = [audit_table.c[field.name] for field in fields(AuditRow)]
"""The audit table's columns in the order of `AuditRow`'s fields."""


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
    tenants: Collection[str] | None = None,
) -> list[AuditRow]:
    """Events newest first (or oldest first), filtered, the page after sequence `after`."""
    query = audit_query(
        task=task,
        tenant=tenant,
        plan=plan,
        actor=actor,
        type=type,
        since=since,
        until=until,
        limit=limit,
        after=after,
        oldest_first=oldest_first,
        tenants=tenants,
    )
    return [AuditRow(*row) for row in conn.execute(query).all()]


def audit_event_row(
    conn: Connection, sequence: int, tenants: Collection[str] | None = None
) -> AuditRow | None:
    """One event of the audit trail, its payload whole, if the read tables have it (and
    its tenant is one of `tenants`, if given)."""
    query = select(*_AUDIT_ROW).where(audit_table.c.sequence == sequence)
    if tenants is not None:
        query = query.where(audit_table.c.tenant_id.in_(tenants))
    row = conn.execute(query).first()
    return None if row is None else AuditRow(*row)
