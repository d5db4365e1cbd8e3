"""Alembic owns switchyard's tables: migrations from an empty schema and from the layout
made before them, run twice, run by many at once, and lock-free once up to date."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.postgres.event_store import TransactionalRecorder
from switchyard.adapters.postgres.migrate import (
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
    known_revisions,
    migrate,
)
from switchyard.adapters.postgres.scheduler_tables import PLANS, TASKS
from switchyard.adapters.postgres.tables import metadata
from switchyard.adapters.relay.store import POSITION_TABLE, RelayPositions
from switchyard.adapters.settings import Settings
from switchyard.domain.errors import StoreRefused
from switchyard.domain.status import UNFINISHED
from switchyard.projections.tables import read_metadata
from tests.support.postgres import schema_engine

CLI = str(Path(sys.executable).parent / "switchyard")

PREVIOUS_LAYOUT = """
CREATE TABLE IF NOT EXISTS {schema}.switchyard_queue_plans (
    plan_id uuid PRIMARY KEY,
    max_concurrency integer NOT NULL,
    seq bigserial NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.switchyard_queue_tasks (
    task_id uuid PRIMARY KEY,
    plan_id uuid NOT NULL,
    tenant_id text NOT NULL,
    position integer NOT NULL,
    status text NOT NULL,
    version integer NOT NULL,
    needs_worker boolean NOT NULL,
    total_stages integer NOT NULL,
    lease_owner text,
    lease_expires timestamptz,
    fence bigint,
    current_stage text,
    completed_stages integer NOT NULL DEFAULT 0,
    heartbeat_at timestamptz
);
CREATE SEQUENCE IF NOT EXISTS {schema}.switchyard_fences;
CREATE INDEX IF NOT EXISTS switchyard_queue_tasks_waiting
    ON {schema}.switchyard_queue_tasks (plan_id, position) WHERE needs_worker;
CREATE INDEX IF NOT EXISTS switchyard_queue_tasks_leased
    ON {schema}.switchyard_queue_tasks (plan_id) WHERE lease_owner IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS switchyard_queue_one_active_task_per_tenant
    ON {schema}.switchyard_queue_tasks (tenant_id) WHERE lease_owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS switchyard_queue_tasks_unfinished
    ON {schema}.switchyard_queue_tasks (tenant_id)
    WHERE status IN ('CREATED', 'PAUSED', 'QUEUED', 'ROLLING_BACK', 'RUNNING');
CREATE TABLE IF NOT EXISTS {schema}.switchyard_relay_position (
    id smallint PRIMARY KEY CHECK (id = 1),
    position bigint NOT NULL
);
"""
"""What the recorder's create statements and the relay made before Alembic owned the tables."""

DESCRIBE = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = %(schema)s
        ORDER BY table_name, column_name""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s
        ORDER BY indexname""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = %(schema)s ORDER BY 1, 2""",
    "sequences": """
        SELECT c.relname, d.refobjid::regclass::text, d.refobjsubid
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'a'
        WHERE n.nspname = %(schema)s AND c.relkind = 'S' ORDER BY 1""",
}
"""Queries that together describe every object in a schema."""


def fresh_schema(database_url: str) -> Iterator[str]:
    """A fresh, empty schema (with a capital letter, to prove it is quoted), then dropped."""
    name = f"M_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture()
def schema(database_url: str) -> Iterator[str]:
    """A fresh, empty schema for the test."""
    yield from fresh_schema(database_url)


@pytest.fixture()
def other_schema(database_url: str) -> Iterator[str]:
    """A second fresh schema, to compare with the first."""
    yield from fresh_schema(database_url)


def describe(database_url: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table, column, index, constraint and sequence in the schema, its name elided."""
    quoted = sql.Identifier(schema).as_string(None)

    def elided(value: object) -> str:
        return str(value).replace(f"{quoted}.", "<schema>.").replace(f"{schema}.", "<schema>.")

    with psycopg.connect(database_url, autocommit=True) as conn:
        return {
            what: [
                tuple(elided(v) for v in row)
                for row in conn.execute(query, {"schema": schema}).fetchall()
                if VERSION_TABLE not in str(row)
            ]
            for what, query in DESCRIBE.items()
        }


def create_previous_layout(database_url: str, schema: str) -> None:
    """The tables as the code before Alembic created them."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(PREVIOUS_LAYOUT.format(schema=sql.Identifier(schema).as_string(None)))


def version_rows(database_url: str, schema: str) -> list[tuple[Any, ...]]:
    """The rows of the schema's Alembic version table."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        table = sql.Identifier(schema, VERSION_TABLE)
        return conn.execute(sql.SQL("SELECT * FROM {}").format(table)).fetchall()


def test_migrate_from_an_empty_schema_creates_every_table(database_url: str, schema: str) -> None:
    assert current_revision(database_url, schema) is None
    assert migrate(database_url, schema) == head_revision()
    assert current_revision(database_url, schema) == head_revision()
    tables = {row[0] for row in describe(database_url, schema)["columns"]}
    assert tables == {*metadata.tables, *read_metadata.tables}
    assert version_rows(database_url, schema) == [(head_revision(),)]


def test_migrate_upgrades_the_previous_layout_to_the_same_schema(
    database_url: str, schema: str, other_schema: str
) -> None:
    create_previous_layout(database_url, schema)
    previous = describe(database_url, schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES (1, 42)").format(sql.Identifier(schema, POSITION_TABLE))
        )
    assert migrate(database_url, schema) == head_revision()
    migrate(database_url, other_schema)
    migrated = describe(database_url, schema)
    assert migrated == describe(database_url, other_schema)
    # The previous layout is kept as it was; later revisions only add to it.
    assert all(set(rows) <= set(migrated[what]) for what, rows in previous.items())
    with psycopg.connect(database_url, autocommit=True) as conn:
        table = sql.Identifier(schema, POSITION_TABLE)
        rows = conn.execute(sql.SQL("SELECT id, position FROM {}").format(table)).fetchall()
    assert rows == [(1, 42)]


def test_migrate_twice_changes_nothing(database_url: str, schema: str) -> None:
    migrate(database_url, schema)
    first = describe(database_url, schema)
    assert migrate(database_url, schema) == head_revision()
    assert describe(database_url, schema) == first
    assert version_rows(database_url, schema) == [(head_revision(),)]


def test_many_migrating_at_once_all_succeed(database_url: str, schema: str) -> None:
    racers = 8
    barrier = threading.Barrier(racers)

    def race() -> str:
        barrier.wait(timeout=30)
        return migrate(database_url, schema)

    with ThreadPoolExecutor(racers) as pool:
        revisions = list(pool.map(lambda _: race(), range(racers)))
    assert revisions == [head_revision()] * racers
    assert version_rows(database_url, schema) == [(head_revision(),)]


def test_an_up_to_date_migrate_takes_no_table_lock(database_url: str, schema: str) -> None:
    migrate(database_url, schema)
    impatient = {**conninfo_to_dict(database_url), "options": "-c lock_timeout=2s"}
    with psycopg.connect(database_url) as holder:
        for table in (PLANS, TASKS, POSITION_TABLE):
            holder.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(schema, table)
                )
            )
        # A lock on any of them would fail with lock_timeout instead of returning.
        assert migrate(impatient, schema) == head_revision()
        holder.rollback()


def test_an_up_to_date_store_starts_without_waiting_for_table_locks(
    pg_env: dict[str, str], database_url: str
) -> None:
    schema = pg_env["POSTGRES_SCHEMA"]
    bootstrap(Settings(database_url=None), env=pg_env).close()
    started = threading.Event()

    def start() -> None:
        bootstrap(Settings(database_url=None), env=pg_env).close()
        started.set()

    with psycopg.connect(database_url) as holder:
        tables = ("switchyard_events", PLANS, TASKS, POSITION_TABLE)
        for table in tables:
            holder.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(schema, table)
                )
            )
        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        try:
            assert started.wait(timeout=20), "the start waited for a table lock"
        finally:
            holder.rollback()
            thread.join(timeout=30)


def test_the_tables_module_describes_the_migrated_schema(database_url: str, schema: str) -> None:
    migrate(database_url, schema)

    engine = schema_engine(database_url, schema)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, [metadata, read_metadata]) == []  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_the_unfinished_index_holds_the_unfinished_statuses(database_url: str, schema: str) -> None:
    # A change to the statuses needs a revision that rebuilds the index.
    migrate(database_url, schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
            "WHERE i.indexrelid = to_regclass(%s)",
            (sql.Identifier(schema, "switchyard_queue_tasks_unfinished").as_string(None),),
        ).fetchone()
    assert row is not None
    assert {s for s in UNFINISHED if f"'{s}'" in row[0]} == UNFINISHED
    assert row[0].count("'") == 2 * len(UNFINISHED)


def test_a_relay_finds_its_table_on_a_fresh_store(pg_env: dict[str, str]) -> None:
    app = bootstrap(Settings(database_url=None), env=pg_env)
    try:
        assert isinstance(app.recorder, TransactionalRecorder)
        positions = RelayPositions(app.recorder.datastore)
        positions.check_table()
        assert positions.read() == 0
    finally:
        app.close()


def test_a_relay_refuses_a_store_that_was_not_migrated(pg_env: dict[str, str]) -> None:
    app = bootstrap(Settings(database_url=None), env={**pg_env, "CREATE_TABLE": "n"})
    try:
        assert isinstance(app.recorder, TransactionalRecorder)
        positions = RelayPositions(app.recorder.datastore)
        with pytest.raises(StoreRefused):
            positions.check_table()
    finally:
        app.close()


def test_db_migrate_applies_the_migrations_and_prints_the_revision(
    pg_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    schema = pg_env["POSTGRES_SCHEMA"]
    done = subprocess.run(
        [CLI, "db", "migrate"],
        env={
            "PATH": str(Path(sys.executable).parent),
            "DATABASE_URL": database_url,
            "POSTGRES_SCHEMA": schema,
            "SWITCHYARD_CREATE_TABLES": "false",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == head_revision()
    assert current_revision(database_url, schema) == head_revision()
    tables = {row[0] for row in describe(database_url, schema)["columns"]}
    assert {"switchyard_events", PLANS, TASKS, POSITION_TABLE} <= tables


def test_a_schema_migrated_by_a_newer_release_is_left_alone(database_url: str, schema: str) -> None:
    migrate(database_url, schema)
    table = sql.Identifier(schema, VERSION_TABLE)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("UPDATE {} SET version_num = 'from-a-newer-release'").format(table))
    assert migrate(database_url, schema) == "from-a-newer-release"
    assert current_revision(database_url, schema) == "from-a-newer-release"


def migrate_to(database_url: str, schema: str, revision: str) -> None:
    """Bring the schema to an older revision, as a database of an earlier release is."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(schema, conn), revision)
    finally:
        engine.dispose()


@pytest.mark.parametrize("revision", sorted(known_revisions() - {head_revision()}))
def test_migrate_upgrades_each_earlier_revision_keeping_its_rows(
    database_url: str, schema: str, other_schema: str, revision: str
) -> None:
    migrate_to(database_url, schema, revision)
    assert current_revision(database_url, schema) == revision
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES (1, 42)").format(sql.Identifier(schema, POSITION_TABLE))
        )
        if revision >= "0002":
            conn.execute(
                sql.SQL("INSERT INTO {} (topic, partition, next_offset) VALUES ('t', 0, 7)").format(
                    sql.Identifier(schema, "switchyard_projector_positions")
                )
            )
    assert migrate(database_url, schema) == head_revision()
    migrate(database_url, other_schema)
    assert describe(database_url, schema) == describe(database_url, other_schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        kept = conn.execute(
            sql.SQL("SELECT position FROM {}").format(sql.Identifier(schema, POSITION_TABLE))
        ).fetchall()
        positions = conn.execute(
            sql.SQL("SELECT next_offset FROM {}").format(
                sql.Identifier(schema, "switchyard_projector_positions")
            )
        ).fetchall()
    assert kept == [(42,)]
    assert positions == ([(7,)] if revision >= "0002" else [])
