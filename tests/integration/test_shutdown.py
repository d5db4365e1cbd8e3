"""Graceful shutdown: SIGTERM lets the running stage finish within the grace period, or not."""

from __future__ import annotations

import signal
import subprocess
import time
from uuid import UUID

import psycopg
from psycopg import sql

from switchyard.adapters.postgres.scheduler_tables import TASKS
from switchyard.application.app import Switchyard
from switchyard.domain.status import TaskStatus
from tests.support.processes import Schedulers, completed, request, started
from tests.support.waiting import wait_until


def lease_owner(database_url: str, schema: str, task_id: UUID) -> str | None:
    """Who holds the task's lease in the scheduler's queue table (None: nobody)."""
    query = sql.SQL("SELECT lease_owner FROM {}.{} WHERE task_id = %s").format(
        sql.Identifier(schema), sql.Identifier(TASKS)
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(query, (task_id,)).fetchone()
    assert row is not None, f"no queue row for task {task_id}"
    return None if row[0] is None else str(row[0])


def stop_and_time(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """Send SIGTERM; the exit code and the seconds it took to exit (fails past `timeout`)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout)
    return code, time.monotonic() - sent


def test_sigterm_lets_the_running_stage_finish_releases_the_lease_and_starts_nothing_new(
    app: Switchyard, schedulers: Schedulers, database_url: str, pg_env: dict[str, str]
) -> None:
    task_id = app.create_plan(request(), "ci").task_ids[0]
    grace = 10.0
    first = schedulers.start(slow="Two:2", grace=grace)
    schedulers.wait_entered(first, "Two")
    code, took = stop_and_time(first, timeout=grace + 5)
    assert code == 0, "the stop reported unfinished work"
    assert took < grace, f"exited {took:.1f}s after SIGTERM, past the {grace}s grace period"
    assert [name for name, _ in completed(app, task_id)] == ["One", "Two"], "lost write of Two"
    assert not schedulers.entered(first, "Three"), "started a new stage while stopping"
    assert started(app, task_id) == ["One", "Two"], "recorded a start of Three"
    assert lease_owner(database_url, pg_env["POSTGRES_SCHEMA"], task_id) is None, "lease kept"
    second = schedulers.start()
    wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60, "takeover")
    assert [name for name, _ in completed(app, task_id)] == ["One", "Two", "Three"], "duplicate"
    assert [line.split()[1] for line in schedulers.lines(second) if "enter" in line] == ["Three"]


def test_a_stage_longer_than_the_grace_period_is_left_and_taken_over_after_the_lease_expires(
    app: Switchyard, schedulers: Schedulers, database_url: str, pg_env: dict[str, str]
) -> None:
    task_id = app.create_plan(request(), "ci").task_ids[0]
    first = schedulers.start(slow="Two:5", grace=0.5)
    schedulers.wait_entered(first, "Two")
    code, took = stop_and_time(first, timeout=4.0)  # the stage itself would end 5 s in
    assert code == 3, "the stop did not report the unfinished stage"
    assert took < 4.0
    assert "leave Two" not in " ".join(schedulers.lines(first)), "the stage was not cut off"
    assert [name for name, _ in completed(app, task_id)] == ["One"], "Two recorded as done"
    owner = lease_owner(database_url, pg_env["POSTGRES_SCHEMA"], task_id)
    assert owner is not None and f":{first.pid}:" in owner, "the lease should wait to expire"
    schedulers.start()
    wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60, "takeover")
    claimed = [e for e in app.events.get(task_id) if type(e).__name__ == "Claimed"]
    assert [e.interrupted_stage for e in claimed] == ["Two"]
    assert [name for name, _ in completed(app, task_id)] == ["One", "Two", "Three"]
