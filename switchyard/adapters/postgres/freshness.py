"""How far behind the read tables are, and read-your-writes: waiting, bounded, until they
reflect a command.

A command returns the sequence (notification id) of its last event. Its events
may sit on several partitions, each applied by whichever projector holds it, so
no single number says "applied up to S". Instead two positions are compared,
both in PostgreSQL:

1. The relay records its position (the last notification id the broker
   acknowledged) together with, per partition, the offset of the last message
   acknowledged there (`switchyard_relay_offsets`), in one transaction. It
   publishes in notification order, one batch at a time, so once its position is
   at or past S, every event up to S sits at or below those offsets.
2. The projector records, per partition, the next offset to read, in the
   transaction of the rows it applied (`switchyard_projector_positions`).

So the read tables reflect S once the relay's position is at or past S and, for
the partition offsets the relay had then, the projector's next offsets are past
them, and no event up to S is held back for a gap in its aggregate's versions.
`wait_for` takes the relay's offsets once (step 1 fixes the target) and then
waits for the projector to pass them, so a busy topic cannot keep moving it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select

from switchyard.adapters.postgres.tables import relay_offsets, relay_position
from switchyard.projections.tables import held, positions

POLL_SECONDS = 0.05
"""How often a waiting query looks at the positions again."""


@dataclass(frozen=True)
class PartitionLag:
    """One partition: what the relay published there and how far the projector got.

    `published` is the offset of the last message the broker acknowledged (None if
    none), `next_offset` the projector's next offset to read (None before its
    first batch); `lag_seconds` is the event-time gap between the two (None when
    the projector has applied nothing there yet).
    """

    partition: int
    published: int | None
    next_offset: int | None
    lag_events: int
    lag_seconds: float | None
    applied_at: datetime | None


@dataclass(frozen=True)
class ProjectorStatus:
    """The projector against the relay, per partition, on one topic."""

    topic: str
    relay_position: int
    partitions: tuple[PartitionLag, ...]
    held: int

    @property
    def lag_events(self) -> int:
        """Messages published but not yet applied, over every partition."""
        return sum(p.lag_events for p in self.partitions)

    @property
    def lag_seconds(self) -> float | None:
        """The largest event-time lag of a partition (0 when caught up)."""
        lags = [p.lag_seconds for p in self.partitions]
        if any(lag is None for lag in lags):
            return None
        return max((lag for lag in lags if lag is not None), default=0.0)


@dataclass(frozen=True)
class Freshness:
    """The answer to "do the read tables reflect sequence S yet?", with the status."""

    sequence: int
    fresh: bool
    status: ProjectorStatus


def projector_status(
    conn: Connection, topic: str, store: Connection | None = None
) -> ProjectorStatus:
    """The relay's and the projector's positions on `topic`.

    `conn` is on the read tables; `store`, on the event store, if that is another
    database (READ_DATABASE_URL); the relay's marks are read first. Its position is
    read before its offsets: each statement sees the latest commit, and offsets only
    grow, so the offsets read are at or past the ones the position was written with
    (read the other way round, a relay commit in between pairs a new position with
    old offsets, and a wait would end before the projector has the event).
    """
    store = store or conn
    relay_at = _relay_position(store)
    published = {
        r.partition: r
        for r in store.execute(select(relay_offsets).where(relay_offsets.c.topic == topic))
    }
    applied = {
        r.partition: r for r in conn.execute(select(positions).where(positions.c.topic == topic))
    }
    lags = []
    for partition in sorted(published.keys() | applied.keys()):
        out, got = published.get(partition), applied.get(partition)
        next_offset = None if got is None else got.next_offset
        behind = 0 if out is None else max(0, out.last_offset + 1 - (next_offset or 0))
        seconds: float | None = 0.0
        if behind and out is not None:
            seconds = None
            if got is not None and got.last_time is not None:
                seconds = max(0.0, (out.last_time - got.last_time).total_seconds())
        lags.append(
            PartitionLag(
                partition,
                None if out is None else out.last_offset,
                next_offset,
                behind,
                seconds,
                None if got is None else got.applied_at,
            )
        )
    return ProjectorStatus(topic, relay_at, tuple(lags), _held(conn))


def wait_for(
    engine: Engine,
    topic: str,
    sequence: int,
    timeout_seconds: float,
    store: Engine | None = None,
) -> Freshness:
    """Wait until the read tables (on `engine`) reflect `sequence`, or the timeout; say which.

    `store` is an engine on the event store if that is another database.
    """
    deadline = time.monotonic() + timeout_seconds
    target: dict[int, int] | None = None
    while True:
        with _connections(engine, store) as (conn, on_store):
            status = projector_status(conn, topic, on_store)
            if target is None and status.relay_position >= sequence:
                target = {
                    p.partition: p.published for p in status.partitions if p.published is not None
                }
            if target is not None and _reflects(conn, status, target, sequence):
                return Freshness(sequence, True, status)
        if time.monotonic() >= deadline:
            return Freshness(sequence, False, status)
        time.sleep(POLL_SECONDS)


@contextmanager
def _connections(engine: Engine, store: Engine | None) -> Iterator[tuple[Connection, Connection]]:
    """A transaction on the read tables and one on the store (the same if one database)."""
    with engine.connect() as conn, conn.begin():
        if store is None:
            yield conn, conn
            return
        with store.connect() as on_store, on_store.begin():
            yield conn, on_store


def _reflects(
    conn: Connection, status: ProjectorStatus, target: dict[int, int], sequence: int
) -> bool:
    got = {p.partition: p.next_offset for p in status.partitions}
    if any((got.get(partition) or 0) <= offset for partition, offset in target.items()):
        return False
    return conn.execute(select(func.count()).where(held.c.sequence <= sequence)).scalar() == 0


def _relay_position(conn: Connection) -> int:
    found = conn.execute(select(relay_position.c.position)).scalar()
    return 0 if found is None else int(found)


def _held(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(held)).scalar() or 0)


def behind(status: ProjectorStatus, newest: int | None = None) -> str:
    """Where the relay and the projector are, in words (`newest`: the store's last sequence)."""
    parts = [f"the relay has published up to sequence {status.relay_position}"]
    if newest is not None:
        parts[0] += f" of {newest}"
    parts.append(f"the projector is {status.lag_events} message(s) behind it")
    if status.held:
        parts.append(f"{status.held} event(s) wait for a gap to fill")
    return (
        "; ".join(parts)
        + " (is a relay and a projector running? see `switchyard projector status`)"
    )
