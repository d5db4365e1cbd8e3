"""The read tables' writes on PostgreSQL: a batch of events and the projector's positions
in one transaction.

The rows, the per-aggregate versions (`projections.apply`) and the positions
commit together, so a projector that crashes mid-batch re-reads the batch from
its stored positions and the versions make the repeat change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects.postgresql import insert

from switchyard.projections.apply import Applied, apply_events
from switchyard.projections.events import ProjectedEvent
from switchyard.projections.tables import positions

LOCK_KEY = 0x5359_5244
"""The advisory lock of the read tables: held shared by each batch, alone by a rebuild's swap."""

Positions = Mapping[tuple[str, int], int]
"""Per (topic, partition), the next offset to read."""


def apply(
    conn: Connection, events: Iterable[ProjectedEvent], next_offsets: Positions | None = None
) -> Applied:
    """Apply the events, and record the next offsets if given, in one transaction of `conn`."""
    with conn.begin():
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": LOCK_KEY})
        result = apply_events(conn, events)
        for (topic, partition), offset in sorted((next_offsets or {}).items()):
            conn.execute(
                insert(positions)
                .values(topic=topic, partition=partition, next_offset=offset)
                .on_conflict_do_update(
                    index_elements=[positions.c.topic, positions.c.partition],
                    set_={"next_offset": offset},
                )
            )
        return result


def read_positions(engine: Engine, topic: str) -> dict[int, int]:
    """The next offset of each of the topic's partitions the projector has recorded."""
    with engine.connect() as conn:
        rows = conn.execute(positions.select().where(positions.c.topic == topic)).all()
    return {row.partition: row.next_offset for row in rows}
