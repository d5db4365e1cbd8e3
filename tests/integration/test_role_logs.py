"""A real role's logs: `switchyard scheduler` in a subprocess writes JSON lines naming the
plan, task and tenant it works on to `<data dir>/logs/scheduler.log`, and only its start
and stop lines and warnings to the terminal."""

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
from switchyard.adapters.settings import Settings
from tests.support.builders import plan_request
from tests.support.cli import CLI, fresh_env
from tests.support.logs import json_lines
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
    settings = Settings(database_url=own_database)
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
