"""Crashed and paused schedulers: takeover after the lease expires, stale writes fenced off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.bootstrap import bootstrap
from adapters.settings import Settings
from application.app import Switchyard
from domain.errors import StaleFence
from domain.status import TaskStatus
from tests.schedulers import probe_factory, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application whose tasks run the probe's three stages."""
    application = bootstrap(Settings(database_url=None), env=pg_env, stage_factory=probe_factory())
    yield application
    application.close()


class Schedulers:
    """Starts scheduler processes on the test's event store and cleans them up."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, slow: str = "") -> subprocess.Popen[bytes]:
        """Start a scheduler process; `slow` ("Two:3") makes one stage sleep."""
        env = {
            **os.environ,
            "SWITCHYARD_TEST_STORE_ENV": json.dumps(self.env),
            "SWITCHYARD_TEST_LOG": str(self.log),
            "SWITCHYARD_TEST_SLOW": slow,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.child_scheduler"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def lines(self) -> list[str]:
        """The stage log: '<pid> enter|leave <stage> <fence>'."""
        return self.log.read_text().splitlines() if self.log.exists() else []

    def close(self) -> None:
        """Stop every process still running."""
        for process in self.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.wait(10)
            if process.stdout is not None:
                process.stdout.close()


@pytest.fixture()
def schedulers(pg_env: dict[str, str], tmp_path: Path) -> Iterator[Schedulers]:
    """Scheduler processes for the test, killed at the end."""
    found = Schedulers(pg_env, tmp_path / "stages.log")
    yield found
    found.close()


def request() -> dict[str, Any]:
    """A one-tenant probe plan."""
    return {
        "tenants": [
            {"tenantId": "acme", "serviceType": "probe", "targetVersion": "2", "endpoints": ["h:1"]}
        ]
    }


def completed_stages(app: Switchyard, task_id: UUID) -> list[tuple[str, int]]:
    """Each StageCompleted event's stage and fence."""
    return [
        (e.outcome.name, e.fence)
        for e in app.events.get(task_id)
        if type(e).__name__ == "StageCompleted"
    ]


def test_a_killed_schedulers_task_is_taken_over_and_its_late_write_refused(
    app: Switchyard, schedulers: Schedulers
) -> None:
    task_id = app.create_plan(request(), "ci").task_ids[0]
    first = schedulers.start(slow="Two:30")
    wait_until(lambda: any(" enter Two " in line for line in schedulers.lines()), 30, "stage Two")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    killed = app.get_task(task_id)  # what the killed worker last knew
    schedulers.start()
    wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60, "takeover")
    names = [type(e).__name__ for e in app.events.get(task_id)]
    assert names.count("Claimed") == 1, names
    claimed = next(e for e in app.events.get(task_id) if type(e).__name__ == "Claimed")
    assert claimed.interrupted_stage == "Two"
    assert [name for name, _ in completed_stages(app, task_id)] == ["One", "Two", "Three"]
    killed.complete_stage(1, {"stage": "Two"}, killed.fence, killed.created_on)
    with pytest.raises(StaleFence):
        app.save(killed, fenced=(task_id, killed.fence))


def test_a_paused_scheduler_loses_its_task_and_its_next_write_is_refused(
    app: Switchyard, schedulers: Schedulers
) -> None:
    task_id = app.create_plan(request(), "ci").task_ids[0]
    paused = schedulers.start(slow="Two:1")
    wait_until(lambda: any(" enter Two " in line for line in schedulers.lines()), 30, "stage Two")
    os.kill(paused.pid, signal.SIGSTOP)
    schedulers.start()
    wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60, "takeover")
    version = app.get_task(task_id).version
    os.kill(paused.pid, signal.SIGCONT)
    wait_until(
        lambda: any(line.startswith(f"{paused.pid} leave Two") for line in schedulers.lines()),
        30,
        "the paused worker finishing its stage",
    )
    paused.send_signal(signal.SIGTERM)
    output = paused.communicate(timeout=30)[0].decode()
    assert "task.stale_fence" in output, output
    assert app.get_task(task_id).version == version, "a stale write was recorded"
    stages = completed_stages(app, task_id)
    assert [name for name, _ in stages] == ["One", "Two", "Three"], "duplicate or lost stage"
    assert not any(line.startswith(f"{paused.pid} enter Three") for line in schedulers.lines()), (
        "the paused worker kept working on the task"
    )
