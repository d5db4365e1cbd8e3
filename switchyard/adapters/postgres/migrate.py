"""Alembic's migrations of switchyard's tables: `migrate` brings a schema up to date.

Every role runs it at start (the recorder's `create_table`, unless
SWITCHYARD_CREATE_TABLES=false), and so does `switchyard db migrate`; so it is
idempotent and safe with many processes starting at once:

- It reads the current revision first, and a schema already at the newest one
  takes no lock at all. (DDL such as `CREATE INDEX IF NOT EXISTS` locks its
  table even when there is nothing to do, and once deadlocked a running
  worker's save when a CLI command started.)
- A schema at a revision this code does not know was migrated by a newer
  release (a rolling deploy): it is left as it is, with a warning.
- Otherwise it upgrades in one transaction holding an advisory lock keyed by
  the schema. A process that waited for the lock finds the work done (Alembic
  reads the revision again under the lock) and changes nothing.

The version table, `switchyard_alembic_version`, lives in the migrated schema;
its own name keeps it apart from any other Alembic user of that schema.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

VERSION_TABLE = "switchyard_alembic_version"
"""Alembic's table of the revision a schema is at."""

MIGRATIONS = Path(__file__).with_name("migrations")
"""Alembic's script folder: its environment and the revisions."""

Connect = str | Mapping[str, Any]
"""Where the database is: a libpq URL or conninfo string, or `psycopg.connect` arguments."""


def migrate(connect: Connect, schema: str) -> str:
    """Bring switchyard's tables in `schema` up to the newest revision; return it."""
    engine = _engine(connect)
    try:
        with engine.connect() as conn:
            head = head_revision()
            with conn.begin():
                current = _current(conn, schema)
            if current == head:
                return head
            if current is not None and current not in known_revisions():
                # A newer release migrated this schema (a rolling deploy): its changes
                # are additive, so this process runs on; it must not downgrade them.
                log.warning("the database's tables are at %s, newer than this release", current)
                return current
            with conn.begin():
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"switchyard.migrate:{schema}"},
                )
                command.upgrade(alembic_config(schema, conn), "head")
            log.info("switchyard's tables in schema %s: migrated to %s", schema, head)
            return head
    finally:
        engine.dispose()


def current_revision(connect: Connect, schema: str) -> str | None:
    """The revision `schema` is at (None before the first migration)."""
    engine = _engine(connect)
    try:
        with engine.connect() as conn, conn.begin():
            return _current(conn, schema)
    finally:
        engine.dispose()


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code knows."""
    return frozenset(r.revision for r in ScriptDirectory(str(MIGRATIONS)).walk_revisions())


@functools.cache
def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration revisions in {MIGRATIONS}")
    return head


def alembic_config(schema: str, connection: Connection) -> Config:
    """Alembic's configuration for migrating `schema` on `connection` (see `migrations/env.py`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def datastore_params(datastore: PostgresDatastore) -> dict[str, Any]:
    """`psycopg.connect` arguments for the server and user of the event store's pool."""
    pool = datastore.pool
    if not isinstance(pool.kwargs, dict):  # the library always gives a dict
        raise TypeError("connection parameters are not a mapping")
    params = {k: v for k, v in pool.kwargs.items() if k != "row_factory"}
    if pool.get_password_func is not None:
        params["password"] = pool.get_password_func()
    params["connect_timeout"] = max(2, int(pool.timeout))  # libpq's minimum is 2 s
    return params


def _current(conn: Connection, schema: str) -> str | None:
    # Plain SQL rather than Alembic's MigrationContext, which logs two lines each time.
    table = sql.Identifier(schema, VERSION_TABLE).as_string(None)
    if conn.execute(text("SELECT to_regclass(:table)"), {"table": table}).scalar() is None:
        return None
    found = conn.execute(text(f"SELECT version_num FROM {table}")).scalar()
    return None if found is None else str(found)


def _engine(connect: Connect) -> Engine:
    def connection() -> psycopg.Connection[Any]:
        if isinstance(connect, str):
            return psycopg.connect(connect)
        return psycopg.connect(**connect)

    # One connection per call, closed after it: no pool outlives a migration.
    return create_engine("postgresql+psycopg://", creator=connection, poolclass=NullPool)
