"""The read tables on the event loop: one-statement queries the API answers without a
thread, through a psycopg async pool.

A query here reads as in `read_store.reading`: in one transaction that first takes
the read tables' shared lock and plans each statement for its values, then runs
the query. Both statements go to the server in one message (PostgreSQL runs the
statements of one simple-protocol query as one transaction: the lock is held
until the query's end and released with it, or on its error), so a query costs
one round trip and one write. Its values are bound on the client (psycopg's
`ClientCursor` quotes them); the SQL is the SQLAlchemy statement the synchronous
path runs, compiled once (the statement is built once per shape, with named
parameters: `fleet.get_task_query`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from psycopg import AsyncClientCursor, AsyncConnection, sql
from psycopg.rows import kwargs_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from switchyard.adapters.postgres.read_store import LOCK_KEY, READING

T = TypeVar("T")


@functools.cache
def compiled(statement: ClauseElement) -> str:
    """The statement's SQL for psycopg, its parameters named (`%(name)s`); compiled once."""
    return str(statement.compile(dialect=PGDialect_psycopg()))  # type: ignore[no-untyped-call]


@functools.cache
def _after_reading(statement: ClauseElement) -> str:
    """`READING` (its parameter `key`) and the statement, as one query."""
    return f"{compiled(READING)}; {compiled(statement)}"


class ReadPool:
    """Up to `size` connections on the read tables (in `schema`, if given), opened by
    `async with` on the event loop that uses them (the API's lifespan) and closed on exit."""

    def __init__(self, conninfo: str, size: int, schema: str | None = None) -> None:
        self._schema = schema
        self._pool = AsyncConnectionPool(
            conninfo,
            kwargs={"autocommit": True},  # the query's statements make its transaction
            min_size=1,
            max_size=size,
            open=False,
            configure=self._configure,
        )

    async def __aenter__(self) -> ReadPool:
        await self._pool.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._pool.close()

    async def _configure(self, conn: AsyncConnection[Any]) -> None:
        if self._schema is not None:
            path = sql.SQL("SET search_path TO {}").format(sql.Identifier(self._schema))
            await conn.execute(path)

    async def one(
        self, statement: ClauseElement, params: Mapping[str, Any], row: Callable[..., T]
    ) -> T | None:
        """The statement's first row as `row(**columns)`, or None, read as `reading` reads."""
        async with (
            self._pool.connection() as conn,
            AsyncClientCursor(conn, row_factory=kwargs_row(row)) as cursor,
        ):
            await cursor.execute(_after_reading(statement), {**params, "key": LOCK_KEY})
            cursor.nextset()
            return await cursor.fetchone()
