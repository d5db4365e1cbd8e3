"""Apply events to the read tables in the caller's transaction, each exactly once, in order.

Mechanism: per aggregate, `switchyard_read_versions` holds the last version
applied, written in the same transaction as the rows. An event is applied only
at that version + 1; one at or below it is a duplicate and changes nothing; one
above it came after a gap and is held (`switchyard_read_held`, logged) until the
missing versions arrive, then applied with them. Roll-ups of the plans and
tenants a batch touched are recomputed at the end, in a fixed order (so two
transactions lock them in the same order and cannot deadlock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert
from structlog.contextvars import bound_contextvars

from switchyard.projections.events import ProjectedEvent
from switchyard.projections.handlers import changes
from switchyard.projections.rollups import recompute_plan, recompute_tenant
from switchyard.projections.tables import held, tasks, versions

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What a batch did: events applied, duplicates skipped, events held after a gap."""

    applied: int = 0
    duplicates: int = 0
    held: int = 0
    plans: set[str] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)


def apply_events(conn: Connection, events: Iterable[ProjectedEvent]) -> Applied:
    """Apply the events on `conn` (the caller owns the transaction), then the roll-ups."""
    result = Applied()
    for event in events:
        with bound_contextvars(**_context(event)):
            _apply_one(conn, event, result)
    for plan_id in sorted(result.plans):
        recompute_plan(conn, plan_id)
    for tenant_id in sorted(result.tenants):
        recompute_tenant(conn, tenant_id)
    return result


def _context(event: ProjectedEvent) -> dict[str, object]:
    """What the lines logged while applying the event name: sequence, plan, task, tenant."""
    found: dict[str, object] = {"sequence": event.sequence}
    plan = event.aggregate_id if event.aggregate_type == "Plan" else event.plan_id
    task = event.aggregate_id if event.aggregate_type == "Task" else None
    for key, value in (("plan", plan), ("task", task), ("tenant", event.tenant_id)):
        if value is not None:
            found[key] = value
    return found


def _apply_one(conn: Connection, event: ProjectedEvent, result: Applied) -> None:
    row = conn.execute(
        select(versions.c.version)
        .where(versions.c.aggregate_id == event.aggregate_id)
        .with_for_update()
    ).first()
    last = 0 if row is None else row.version
    if event.version <= last:
        result.duplicates += 1
        return
    if event.version > last + 1:
        _hold(conn, event, last)
        result.held += 1
        return
    while True:
        _apply_now(conn, event, result)
        waiting = conn.execute(
            delete(held)
            .where(
                (held.c.aggregate_id == event.aggregate_id) & (held.c.version == event.version + 1)
            )
            .returning(held.c.event)
        ).first()
        if waiting is None:
            return
        event = ProjectedEvent.from_json(waiting.event)
        log.info("applying held event %s v%d: the gap filled", event.aggregate_id, event.version)


def _apply_now(conn: Connection, event: ProjectedEvent, result: Applied) -> None:
    for statement in changes(event):
        conn.execute(statement)
    conn.execute(
        insert(versions)
        .values(aggregate_id=event.aggregate_id, version=event.version, sequence=event.sequence)
        .on_conflict_do_update(
            index_elements=[versions.c.aggregate_id],
            set_={"version": event.version, "sequence": event.sequence},
        )
    )
    result.applied += 1
    if event.aggregate_type == "Task":
        row = conn.execute(
            select(tasks.c.plan_id, tasks.c.tenant_id).where(tasks.c.task_id == event.aggregate_id)
        ).first()
        if row is not None:
            result.plans.add(row.plan_id)
            result.tenants.add(row.tenant_id)
    elif event.aggregate_type == "Plan":
        result.plans.add(event.aggregate_id)


def _hold(conn: Connection, event: ProjectedEvent, last: int) -> None:
    log.warning(
        "held event %s v%d of %s: versions %d..%d have not arrived",
        event.name,
        event.version,
        event.aggregate_id,
        last + 1,
        event.version - 1,
    )
    conn.execute(
        insert(held)
        .values(
            aggregate_id=event.aggregate_id,
            version=event.version,
            sequence=event.sequence,
            event=event.to_json(),
        )
        .on_conflict_do_nothing()
    )


def held_events(conn: Connection) -> list[tuple[str, int, int]]:
    """Every held event as (aggregate id, version, sequence): what waits for a gap to fill."""
    rows = conn.execute(
        select(held.c.aggregate_id, held.c.version, held.c.sequence).order_by(held.c.sequence)
    ).all()
    return [(r.aggregate_id, r.version, r.sequence) for r in rows]
