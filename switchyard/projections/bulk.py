"""Many rows written at once: executemany for inserts and updates (psycopg sends the
statements in one pipeline, not one round trip each), COPY for rows only ever appended.

Measured on 1,000 audit rows: COPY about 20 ms, a pipelined executemany 40 ms,
one INSERT ... SELECT FROM unnest(arrays) 80 ms (the arrays' parsing costs more
than the statements it saves). Every statement is SQLAlchemy Core, so a rebuild's
schema_translate_map applies; COPY, written by hand, names the table's schema
from that map too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import orjson
import psycopg
from psycopg import sql
from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    Table,
    any_,
    bindparam,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.exc import DBAPIError

Row = dict[str, Any]
"""One row's columns by name."""


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Row],
    skip_existing: bool = False,
    update_on: str | None = None,
    updated: Sequence[str] | None = None,
) -> None:
    """Insert `rows` (every one with the same columns).

    `skip_existing`: a row whose key is taken is left out; `update_on` (a unique
    column): such a row's columns `updated` (by default all the others) overwrite
    the existing row's instead.
    """
    if rows:
        updating = None if update_on is None else tuple(updated or rows[0])
        conn.execute(_insert(table, skip_existing, update_on, updating), list(rows))


@cache
def _insert(
    table: Table, skip_existing: bool, update_on: str | None, updated: tuple[str, ...] | None
) -> Executable:
    """The INSERT statement, built once per shape (building an upsert's `excluded` alias
    costs more than executing it for a few rows)."""
    statement = insert(table)
    if update_on is not None and updated is not None:
        return statement.on_conflict_do_update(
            index_elements=[table.c[update_on]],
            set_={n: statement.excluded[n] for n in updated if n != update_on},
        )
    return statement.on_conflict_do_nothing() if skip_existing else statement


def lock_rows(conn: Connection, table: Table, key: str, rows: Sequence[Row]) -> dict[Any, Row]:
    """Lock the rows with the keys of `rows`, in key order, inserting those of `rows` whose
    key is not there yet; the locked rows as they are, by key.

    A lock by SELECT ... FOR UPDATE writes no new row version, as an upsert would; the
    rows are nearly always there already, so the insert is nearly never needed.
    """
    found = _locked(conn, table, key, [row[key] for row in rows])
    missing = sorted((row for row in rows if row[key] not in found), key=lambda row: row[key])
    if missing:
        insert_rows(conn, table, missing, skip_existing=True)
        found.update(_locked(conn, table, key, [row[key] for row in missing]))
    return found


def _locked(conn: Connection, table: Table, key: str, keys: Sequence[Any]) -> dict[Any, Row]:
    if not keys:
        return {}
    column = table.c[key]
    locked = conn.execute(
        select(table).where(among(column, keys)).order_by(column).with_for_update()
    )
    return {found[key]: found for found in (dict(row._mapping) for row in locked)}


def among(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY(:array)`: one statement text whatever the number of values, so
    PostgreSQL plans it once (an IN list is a new statement for each length)."""
    return column == any_(literal(sorted(set(values)), ARRAY(column.type)))


def changed(current: dict[Any, Row], key: str, rows: Sequence[Row]) -> list[Row]:
    """The rows of `rows` that differ from the current row with their key."""
    return [row for row in rows if any(current[row[key]].get(n) != v for n, v in row.items())]


def update_rows(conn: Connection, table: Table, key: Sequence[str], rows: Sequence[Row]) -> None:
    """Set the columns of `rows` (every one with the same columns, `key` among them) on the
    rows with their key."""
    if rows:
        params = [{**row, **{f"key_{k}": row[k] for k in key}} for row in rows]
        conn.execute(_update(table, tuple(key)), params)


@cache
def _update(table: Table, key: tuple[str, ...]) -> Executable:
    """The UPDATE by key, its values bound per row; built once per table and key."""
    return table.update().where(*(table.c[k] == bindparam(f"key_{k}") for k in key))


def copy_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Append `rows` (every one with the same columns, none there yet) by COPY, in the
    transaction of `conn`; JSONB columns' values are serialized here."""
    if not rows:
        return
    names = list(rows[0])
    json = {n for n in names if isinstance(table.c[n].type, JSONB)}
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(table.schema, table.schema)
    name = sql.Identifier(schema, table.name) if schema else sql.Identifier(table.name)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        name, sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with _driver(conn).cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([orjson.dumps(row[n]).decode() if n in json else row[n] for n in names])


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Statements on `conn` sent without waiting for each one's answer (psycopg's pipeline
    mode): for writes, whose answers nothing reads; they, and any error, come at the end
    (or at a read, which waits for them). An error at the end is raised as SQLAlchemy
    raises one (a `DBAPIError`, the connection invalidated if lost). COPY cannot run in
    a pipeline."""
    driver = _driver(conn)
    try:
        with driver.pipeline():
            yield
    except psycopg.Error as exc:  # raised at the pipeline's end, past SQLAlchemy: as it would
        if driver.closed:
            conn.invalidate(exc)
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc


def _driver(conn: Connection) -> psycopg.Connection[Any]:
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):  # always one, out of the pool
        raise TypeError(f"not a psycopg connection: {driver!r}")
    return driver
