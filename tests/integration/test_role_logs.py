"""A real role's logs: `switchyard scheduler` in a subprocess writes JSON lines naming the
plan, task and tenant it works on to `<data dir>/logs/scheduler.log`, and only its start
and stop lines and warnings to the terminal; the projector's lines name the event applied."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.kafka.examples import scenario
from switchyard.adapters.logs import configure_logging
from switchyard.adapters.postgres.migrate import migrate
from switchyard.adapters.postgres.read_store import apply
from switchyard.adapters.settings import Settings
from switchyard.projections.events import from_message
from tests.integration.test_migrations import fresh_schema
from tests.support.builders import plan_request
from tests.support.cli import CLI, fresh_env
from tests.support.logs import json_lines, logging_restored
from tests.support.postgres import schema_engine
from tests.support.waiting import wait_until


@pytest.fixture()
def own_database(database_url: str) -> Iterator[str]:
    """A database of the test's own on the session's server: its URL."""
    name = f"logs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield make_conninfo(database_url, dbname=name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_the_scheduler_logs_json_lines_with_plan_task_and_tenant_to_its_file(
    own_database: str, redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=own_database).with_loopback()
    app = bootstrap(settings)
    try:
        created = app.create_plan(plan_request("acme"), "ci")
    finally:
        app.close()
    task_id = str(created.task_ids[0])
    data = tmp_path / "data"
    env = fresh_env(
        data, DATABASE_URL=own_database, REDIS_URL=redis_url, SWITCHYARD_GRACE_SECONDS="1"
    )
    log_file = data / "logs" / "scheduler.log"
    with open(tmp_path / "terminal.out", "wb") as out:
        role = subprocess.Popen([CLI, "scheduler"], env=env, cwd=tmp_path, stdout=out, stderr=out)
    try:
        wait_until(
            lambda: any(line.get("task") == task_id for line in json_lines(log_file)),
            60,
            "a line about the task",
        )
    finally:
        role.send_signal(signal.SIGTERM)
        role.wait(60)
    about = [line for line in json_lines(log_file) if line.get("task") == task_id]
    assert all(
        (line["plan"], line["tenant"]) == (str(created.plan_id), "acme") for line in about
    ), about
    assert any("claimed" in line["event"] for line in about)
    assert {"time", "level", "logger", "event"} <= about[0].keys()
    events = [line["event"] for line in json_lines(log_file)]
    assert events[0].startswith("scheduler started") and events[-1] == "scheduler stopped"
    terminal = (tmp_path / "terminal.out").read_text()
    assert "scheduler started" in terminal and "scheduler stopped" in terminal
    assert "claimed" not in terminal, terminal


def test_the_projectors_lines_name_the_events_sequence_plan_task_and_tenant(
    database_url: str, tmp_path: Path
) -> None:
    messages = [from_message(p.record.headers, p.record.value) for p in scenario()]
    third = next(m for m in messages if m.aggregate_type == "Task" and m.version == 3)
    schema = fresh_schema(database_url)
    engine = schema_engine(database_url, migrated(database_url, next(schema)))
    try:
        with logging_restored():
            path = configure_logging("projector", Settings(data_dir=tmp_path))
            with engine.connect() as conn:
                apply(conn, [m for m in messages if m is not third])
        held = [line for line in json_lines(path) if line["event"].startswith("held event")]
        assert held and all(line["task"] == third.aggregate_id for line in held)
        first = next(m for m in messages if m.aggregate_id == third.aggregate_id and m.version > 3)
        assert (held[0]["sequence"], held[0]["tenant"], held[0]["plan"]) == (
            first.sequence,
            third.tenant_id,
            third.plan_id,
        )
    finally:
        engine.dispose()
        next(schema, None)


def migrated(database_url: str, schema: str) -> str:
    """The schema, with the read tables migrated into it."""
    migrate(database_url, schema)
    return schema
