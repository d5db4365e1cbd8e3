"""The relay's state in PostgreSQL: its position, its advisory lock, and its wake-ups.

The position is one row in `switchyard_relay_position`, in the event store's
schema: the last notification id the broker acknowledged. With it, in the same
transaction, `switchyard_relay_offsets` gets the last acknowledged message of each
partition the batch went to (offset, sequence, time): once the position is at or
past a sequence, every event up to it sits at or below those offsets, which is
how a reader of the projections knows what the projector must have applied
(`adapters.postgres.freshness`). The relay creates no
table: a migration does (`adapters.postgres.migrate`), which the application
that every relay process builds runs at start. Only one relay per
schema publishes: it holds a session advisory lock (keyed by the schema) on a
dedicated connection, which also LISTENs on the event store's channel. If that
connection dies, so does the lock, and the relay must stop publishing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql
from psycopg.rows import tuple_row

from switchyard.domain.errors import StoreRefused

POSITION_TABLE = "switchyard_relay_position"
"""The table holding the relay's one row."""

OFFSETS_TABLE = "switchyard_relay_offsets"
"""The table of the last acknowledged message per topic partition."""

_FIND = "SELECT to_regclass(%s) IS NOT NULL AS found"

_READ = "SELECT position FROM {table} WHERE id = 1"

_WRITE = """
INSERT INTO {table} (id, position) VALUES (1, %(position)s)
ON CONFLICT (id) DO UPDATE SET position = excluded.position
"""

_WRITE_OFFSET = """
INSERT INTO {table} (topic, partition, last_offset, last_sequence, last_time)
VALUES (%(topic)s, %(partition)s, %(offset)s, %(sequence)s, %(time)s)
ON CONFLICT (topic, partition) DO UPDATE SET last_offset = excluded.last_offset,
    last_sequence = excluded.last_sequence, last_time = excluded.last_time
"""

_FORGET_OFFSETS = "DELETE FROM {table} WHERE topic = %(topic)s"


@dataclass(frozen=True)
class PartitionMark:
    """The last message of a batch on one partition: its offset, sequence and event time."""

    partition: int
    offset: int
    sequence: int
    time: datetime


class RelayPositions:
    """Reads and writes the relay's position in the event store's database."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore
        table = sql.Identifier(datastore.schema or "public", POSITION_TABLE)
        self._table = table.as_string(None)
        self._read, self.write_statement = (
            sql.SQL(text).format(table=table) for text in (_READ, _WRITE)
        )
        offsets = sql.Identifier(datastore.schema or "public", OFFSETS_TABLE)
        self.offset_statement, self.forget_statement = (
            sql.SQL(text).format(table=offsets) for text in (_WRITE_OFFSET, _FORGET_OFFSETS)
        )

    def check_table(self) -> None:
        """Refuse to start (StoreRefused) if the position table is missing: not migrated."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(_FIND, (self._table,))
            row = curs.fetchone()
        if row is None or not row["found"]:
            raise StoreRefused(
                f"{StoreRefused.title}: no table {self._table} "
                "(run `switchyard db migrate`, or start with SWITCHYARD_CREATE_TABLES=true)"
            )

    def read(self) -> int:
        """The last acknowledged notification id (0 before the first)."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(self._read)
            row = curs.fetchone()
            return 0 if row is None else int(row["position"])


class RelayLock:
    """The advisory lock that makes one relay active, and its LISTEN, on one connection."""

    def __init__(
        self, datastore: PostgresDatastore, channel: str, positions: RelayPositions
    ) -> None:
        self._datastore = datastore
        self._channel = channel
        self._positions = positions
        self._key = f"switchyard.relay:{datastore.schema or 'public'}"
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def held(self) -> bool:
        """Whether this relay holds the lock (as far as it knows)."""
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if no other relay holds it; also start listening. False if taken."""
        if self._conn is not None:
            return True
        params = self._datastore.pool.kwargs
        if not isinstance(params, dict):  # the library always gives a dict
            raise TypeError("connection parameters are not a mapping")
        conn: psycopg.Connection[Any] = psycopg.connect(
            **{**params, "row_factory": tuple_row}, autocommit=True
        )
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self._key,)).fetchone()
            if not (row and row[0]):
                conn.close()
                return False
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return True

    def wait(self, timeout_seconds: float) -> None:
        """Block until the event store notifies a write, or the timeout passes.

        Raises `psycopg.Error` (and releases) if the connection, and so the lock, is lost.
        """
        conn = self._require()
        try:
            for _ in conn.notifies(timeout=timeout_seconds, stop_after=1):
                pass
            conn.execute("SELECT 1")  # a dead connection would have lost the lock
        except psycopg.Error:
            self.release()
            raise

    def write_position(
        self, position: int, topic: str, marks: Iterable[PartitionMark] = ()
    ) -> None:
        """Record the position and the topic's partition marks on the locked connection,
        in one transaction: it fails if the lock was lost.

        Position 0 (publishing from the start again) forgets the topic's marks.
        """
        conn = self._require()
        positions = self._positions
        try:
            with conn.transaction():
                conn.execute(positions.write_statement, {"position": position})
                if position == 0:
                    conn.execute(positions.forget_statement, {"topic": topic})
                for mark in marks:
                    conn.execute(
                        positions.offset_statement,
                        {
                            "topic": topic,
                            "partition": mark.partition,
                            "offset": mark.offset,
                            "sequence": mark.sequence,
                            "time": mark.time,
                        },
                    )
        except psycopg.Error:
            self.release()
            raise

    def release(self) -> None:
        """Give the lock up (closing its connection releases it)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _require(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("the relay lock is not held")
        return self._conn
