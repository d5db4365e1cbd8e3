"""The relay's state in PostgreSQL: its position, its advisory lock, and its wake-ups.

The position is one row in `switchyard_relay_position`, in the event store's
schema: the last notification id the broker acknowledged. The relay creates no
table: a migration does (`adapters.postgres.migrate`), which the application
that every relay process builds runs at start. Only one relay per
schema publishes: it holds a session advisory lock (keyed by the schema) on a
dedicated connection, which also LISTENs on the event store's channel. If that
connection dies, so does the lock, and the relay must stop publishing.
"""

from __future__ import annotations

from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql
from psycopg.rows import tuple_row

from switchyard.domain.errors import StoreRefused

POSITION_TABLE = "switchyard_relay_position"
"""The table holding the relay's one row."""

_FIND = "SELECT to_regclass(%s) IS NOT NULL AS found"

_READ = "SELECT position FROM {table} WHERE id = 1"

_WRITE = """
INSERT INTO {table} (id, position) VALUES (1, %(position)s)
ON CONFLICT (id) DO UPDATE SET position = excluded.position
"""


class RelayPositions:
    """Reads and writes the relay's position in the event store's database."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore
        table = sql.Identifier(datastore.schema or "public", POSITION_TABLE)
        self._table = table.as_string(None)
        self._read, self.write_statement = (
            sql.SQL(text).format(table=table) for text in (_READ, _WRITE)
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

    def write_position(self, position: int) -> None:
        """Record the position on the locked connection: it fails if the lock was lost."""
        conn = self._require()
        try:
            conn.execute(self._positions.write_statement, {"position": position})
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
