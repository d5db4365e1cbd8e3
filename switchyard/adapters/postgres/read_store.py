"""The read tables' writes on PostgreSQL: a batch of events and the projector's positions
in one transaction, and the engine they are written and read through.

The rows, the per-aggregate versions (`projections.apply`) and the positions
commit together, so a projector that crashes mid-batch re-reads the batch from
its stored positions and the versions make the repeat change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql
from psycopg.types.json import set_json_loads
from sqlalchemy import Connection, Engine, create_engine, func, text
from sqlalchemy.dialects.postgresql import insert

from switchyard.adapters.postgres.migrate import datastore_params
from switchyard.projections.apply import Applied, apply_events
from switchyard.projections.bulk import pipelined
from switchyard.projections.events import ProjectedEvent
from switchyard.projections.tables import positions

LOCK_KEY = 0x5359_5244
"""The advisory lock of the read tables: held shared by each batch and each reading
transaction, alone by a rebuild's swap (which so never waits on a reader's table
locks while the reader waits on its own: they would deadlock)."""


@dataclass(frozen=True)
class Consumed:
    """How far the projector got on one partition: the next offset to read, and the
    sequence and time of the last event there (None if the batch had no event)."""

    next_offset: int
    last_sequence: int | None = None
    last_time: datetime | None = None


Positions = Mapping[tuple[str, int], Consumed]
"""Per (topic, partition), how far the projector got."""


def apply(
    conn: Connection, events: Iterable[ProjectedEvent], consumed: Positions | None = None
) -> Applied:
    """Apply the events, and record the positions if given, in one transaction of `conn`.

    The commit does not wait for its WAL to reach the disk (`synchronous_commit` off, for
    this transaction only): the rows are derived, and a server crash that loses the last
    batches loses their positions with them, so the projector reads them again. Each
    statement is planned for its values (`plan_cache_mode`): psycopg prepares a statement
    run five times, and a plan made once while the tables were nearly empty scanned them
    whole ever after (a 100,000-event backlog applied at 7,800 events/s, not 11,600)."""
    with conn.begin():
        with pipelined(conn):  # the transaction's BEGIN and the lock in one round trip
            conn.execute(_APPLYING, {"key": LOCK_KEY})
        return apply_events(conn, events, lambda conn: _record(conn, consumed or {}))


_APPLYING = text(
    "SELECT pg_advisory_xact_lock_shared(:key), set_config('synchronous_commit', 'off', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)


def _record(conn: Connection, consumed: Positions) -> None:
    """Each partition's next offset, and the last event applied there if the batch had one
    (else the one recorded before stays), in one statement."""
    if not consumed:
        return
    upsert = insert(positions).values(applied_at=func.now())
    kept = positions.c
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[kept.topic, kept.partition],
            set_={
                "next_offset": upsert.excluded.next_offset,
                "applied_at": upsert.excluded.applied_at,
                "last_sequence": func.coalesce(upsert.excluded.last_sequence, kept.last_sequence),
                "last_time": func.coalesce(upsert.excluded.last_time, kept.last_time),
            },
        ),
        [
            {
                "topic": topic,
                "partition": partition,
                "next_offset": at.next_offset,
                "last_sequence": at.last_sequence,
                "last_time": at.last_time,
            }
            for (topic, partition), at in sorted(consumed.items())
        ],
    )


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A transaction for queries on the read tables, safe from a rebuild's swap, whose
    statements are planned for their own values.

    psycopg prepares a statement run five times, and PostgreSQL may then plan it once
    for any values (a generic plan). The read tables' columns are skewed (event types,
    actors, statuses: a few values hold most rows), so the best plan depends on the
    value, and each query is planned for its own (`plan_cache_mode`, set for this
    transaction only, with the lock: no round trip of its own)."""
    with engine.connect() as conn, conn.begin():
        begin_reading(conn)
        yield conn


def begin_reading(conn: Connection) -> None:
    """Take the shared lock and plan each statement for its values, in the transaction of
    `conn` (what `reading` does first)."""
    conn.execute(READING, {"key": LOCK_KEY})


READING = text(
    "SELECT pg_advisory_xact_lock_shared(:key),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)
"""What a reading transaction runs first: the shared lock (`key`: `LOCK_KEY`), and each
statement planned for its values."""


def read_positions(engine: Engine, topic: str) -> dict[int, int]:
    """The next offset of each of the topic's partitions the projector has recorded."""
    with engine.connect() as conn:
        rows = conn.execute(positions.select().where(positions.c.topic == topic)).all()
    return {row.partition: row.next_offset for row in rows}


def forget_positions(engine: Engine, topic: str, partitions: Iterable[int]) -> None:
    """Drop the positions of these partitions: the projector reads them from the start."""
    with engine.begin() as conn:
        conn.execute(
            positions.delete().where(
                (positions.c.topic == topic) & positions.c.partition.in_(list(partitions))
            )
        )


def store_engine(datastore: PostgresDatastore, pool_size: int = 2) -> Engine:
    """An engine on the event store's server whose connections work in its schema, keeping
    up to `pool_size` of them open (no more: a caller beyond waits for one)."""
    params = datastore_params(datastore)
    schema = datastore.schema or "public"

    def in_schema() -> psycopg.Connection[Any]:
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.autocommit = False
        set_json_loads(_loads, conn)
        return conn

    return create_engine(
        "postgresql+psycopg://",
        creator=in_schema,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
    )


def url_engine(url: str, pool_size: int = 2) -> Engine:
    """An engine on the database at a libpq URL (READ_DATABASE_URL), in its default schema,
    keeping up to `pool_size` connections open (no more: a caller beyond waits for one)."""

    def connect() -> psycopg.Connection[Any]:
        conn = psycopg.connect(url)
        set_json_loads(_loads, conn)
        return conn

    return create_engine(
        "postgresql+psycopg://",
        creator=connect,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
    )


def _loads(data: bytes | str) -> Any:
    """A jsonb value read by orjson (a page of audit payloads in a fraction of the standard
    library's time), or by the standard library where orjson refuses it (an integer
    beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def current_schema(engine: Engine) -> str:
    """The schema an engine's connections work in."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar())
