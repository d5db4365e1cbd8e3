"""Apply events to the read tables in the caller's transaction, each exactly once, in order.

Mechanism: per aggregate, `switchyard_read_versions` holds the last version
applied, written in the same transaction as the rows. An event is applied only
at that version + 1; one at or below it is a duplicate and changes nothing; one
above it came after a gap and is held (`switchyard_read_held`, logged) until the
missing versions arrive, then applied with them. A batch is gated as a whole:
its aggregates' versions are locked and read in one statement (in id order, so
two transactions cannot deadlock on them), with their held events; the events
to apply are folded into the rows and written together (`projections.batch`).
Roll-ups of the plans and tenants a batch touched are recomputed at the end, in
a fixed order (`projections.rollups`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Executable,
    bindparam,
    delete,
    func,
    null,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from structlog.contextvars import bound_contextvars

from switchyard.projections.batch import RowChanges
from switchyard.projections.bulk import among, insert_rows, pipelined
from switchyard.projections.events import ProjectedEvent
from switchyard.projections.rollups import recompute
from switchyard.projections.tables import held, versions

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What a batch did: events applied, duplicates skipped, events held after a gap."""

    applied: int = 0
    duplicates: int = 0
    held: int = 0
    plans: set[str] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)


@dataclass
class _Gate:
    """The batch sorted out: what to apply (in log order), what to hold, what was held."""

    apply: list[ProjectedEvent] = field(default_factory=list)
    hold: list[ProjectedEvent] = field(default_factory=list)
    released: list[ProjectedEvent] = field(default_factory=list)
    last: dict[str, ProjectedEvent] = field(default_factory=dict)


def apply_events(
    conn: Connection,
    events: Iterable[ProjectedEvent],
    also: Callable[[Connection], None] | None = None,
) -> Applied:
    """Apply the events on `conn` (the caller owns the transaction), then the roll-ups;
    `also` makes more writes (the projector's positions), sent with the roll-ups'."""
    batch = list(events)
    result = Applied()
    gate = _gate(conn, batch, result)
    changes = RowChanges(conn, gate.apply)
    for event in gate.apply:
        changes.add(event)
        if event.aggregate_type == "Plan":
            result.plans.add(event.aggregate_id)
        elif event.aggregate_type == "Task" and event.aggregate_id in changes.tasks:
            task = changes.tasks[event.aggregate_id]
            result.plans.add(task["plan_id"])
            result.tenants.add(task["tenant_id"])
    changes.write_audit()
    with pipelined(conn):  # writes only: no round trip each
        changes.write()
        _write_gate(conn, gate)
    rollups = recompute(conn, sorted(result.plans), sorted(result.tenants))
    with pipelined(conn):
        rollups.write(conn)
        if also is not None:
            also(conn)
    result.applied = len(gate.apply)
    return result


def _gate(conn: Connection, batch: list[ProjectedEvent], result: Applied) -> _Gate:
    """Sort the batch by each aggregate's last applied version and its held events."""
    ids = sorted({e.aggregate_id for e in batch})
    if not ids:
        return _Gate()
    last: dict[str, int] = {}
    waiting: dict[str, dict[int, ProjectedEvent]] = {}
    for row in conn.execute(_versions_and_held(ids)):
        if row.event is None:
            last[row.aggregate_id] = row.version
        else:
            event = ProjectedEvent.from_json(row.event)
            waiting.setdefault(event.aggregate_id, {})[event.version] = event
    arrived: dict[str, dict[int, ProjectedEvent]] = {}
    for event in batch:
        mine = arrived.setdefault(event.aggregate_id, {})
        if event.version <= last.get(event.aggregate_id, 0) or event.version in mine:
            result.duplicates += 1
        else:
            mine[event.version] = event
    gate = _Gate()
    for aggregate_id in ids:
        _sort_out(gate, last.get(aggregate_id, 0), arrived[aggregate_id], waiting.get(aggregate_id))
    gate.apply.sort(key=lambda e: e.sequence)
    result.held = len(gate.hold)
    return gate


def _versions_and_held(ids: list[str]) -> CompoundSelect[Any]:
    """One statement: lock the aggregates' versions (in id order) and read them (rows
    without an event), and their held events (rows with one)."""
    locked = (
        select(versions.c.aggregate_id, versions.c.version)
        .where(among(versions.c.aggregate_id, ids))
        .order_by(versions.c.aggregate_id)
        .with_for_update()
        .cte("locked")
    )
    return select(locked.c.aggregate_id, locked.c.version, null().label("event")).union_all(
        select(held.c.aggregate_id, held.c.version, held.c.event).where(
            among(held.c.aggregate_id, ids)
        )
    )


def _sort_out(
    gate: _Gate,
    version: int,
    arrived: dict[int, ProjectedEvent],
    waiting: dict[int, ProjectedEvent] | None,
) -> None:
    """One aggregate: apply from `version` + 1 while the next version is here or held; hold
    what is left after the gap."""
    waiting = waiting or {}
    while True:
        event, kept = arrived.pop(version + 1, None), waiting.pop(version + 1, None)
        if kept is not None:  # held before (and maybe delivered again)
            gate.released.append(kept)
            if event is None:
                event = kept
                with bound_contextvars(**_context(event)):
                    log.info(
                        "applying held event %s v%d: the gap filled",
                        event.aggregate_id,
                        event.version,
                    )
        if event is None:
            break
        gate.apply.append(event)
        gate.last[event.aggregate_id] = event
        version = event.version
    for event in sorted(arrived.values(), key=lambda e: e.version):
        with bound_contextvars(**_context(event)):
            log.warning(
                "held event %s v%d of %s: versions %d..%d have not arrived",
                event.name,
                event.version,
                event.aggregate_id,
                version + 1,
                event.version - 1,
            )
        gate.hold.append(event)


def _write_gate(conn: Connection, gate: _Gate) -> None:
    """Record each aggregate's last version applied, and the held events' comings and goings."""
    if gate.last:
        last = [e for _, e in sorted(gate.last.items())]
        conn.execute(
            _RECORD_VERSIONS,
            {
                "ids": [e.aggregate_id for e in last],
                "versions": [e.version for e in last],
                "sequences": [e.sequence for e in last],
            },
        )
    if gate.released:
        conn.execute(
            delete(held).where(
                tuple_(held.c.aggregate_id, held.c.version)
                == tuple_(bindparam("aggregate_id"), bindparam("version"))
            ),
            [{"aggregate_id": e.aggregate_id, "version": e.version} for e in gate.released],
        )
    insert_rows(
        conn,
        held,
        [
            {
                "aggregate_id": e.aggregate_id,
                "version": e.version,
                "sequence": e.sequence,
                "event": e.to_json(),
            }
            for e in gate.hold
        ],
        skip_existing=True,
    )


def _record_versions() -> Executable:
    """Each aggregate's last version applied, from three arrays in one statement (a
    statement per aggregate cost a batch of new aggregates a tenth of its time)."""
    c = versions.c
    given = (
        func.unnest(
            bindparam("ids", type_=ARRAY(c.aggregate_id.type)),
            bindparam("versions", type_=ARRAY(c.version.type)),
            bindparam("sequences", type_=ARRAY(c.sequence.type)),
        )
        .table_valued("aggregate_id", "version", "sequence")
        .render_derived()
    )
    upsert = insert(versions).from_select(
        ["aggregate_id", "version", "sequence"],
        select(given.c.aggregate_id, given.c.version, given.c.sequence),
    )
    return upsert.on_conflict_do_update(
        index_elements=[c.aggregate_id],
        set_={"version": upsert.excluded.version, "sequence": upsert.excluded.sequence},
    )


_RECORD_VERSIONS = _record_versions()


def _context(event: ProjectedEvent) -> dict[str, object]:
    """What the lines logged about the event name: sequence, plan, task, tenant."""
    found: dict[str, object] = {"sequence": event.sequence}
    plan = event.aggregate_id if event.aggregate_type == "Plan" else event.plan_id
    task = event.aggregate_id if event.aggregate_type == "Task" else None
    for key, value in (("plan", plan), ("task", task), ("tenant", event.tenant_id)):
        if value is not None:
            found[key] = value
    return found


def held_events(conn: Connection) -> list[tuple[str, int, int]]:
    """Every held event as (aggregate id, version, sequence): what waits for a gap to fill."""
    rows = conn.execute(
        select(held.c.aggregate_id, held.c.version, held.c.sequence).order_by(held.c.sequence)
    ).all()
    return [(r.aggregate_id, r.version, r.sequence) for r in rows]
