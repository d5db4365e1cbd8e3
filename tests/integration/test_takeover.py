"""Crashed and paused schedulers: takeover after the lease expires, stale writes fenced off."""

from __future__ import annotations

import os
import signal

import pytest

from switchyard.application.app import Switchyard
from switchyard.application.ports import Claim
from switchyard.domain.errors import StaleFence
from switchyard.domain.status import TaskStatus
from tests.support.processes import Schedulers, completed, request
from tests.support.waiting import wait_until


def test_a_killed_schedulers_task_is_taken_over_and_its_late_write_refused(
    app: Switchyard, schedulers: Schedulers
) -> None:
    task_id = app.create_plan(request(), "ci").task_ids[0]
    first = schedulers.start(slow="Two:30")
    schedulers.wait_entered(first, "Two")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    killed = app.get_task(task_id)  # what the killed worker last knew
    schedulers.start()
    wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60, "takeover")
    names = [type(e).__name__ for e in app.events.get(task_id)]
    assert names.count("Claimed") == 1, names
    claimed = next(e for e in app.events.get(task_id) if type(e).__name__ == "Claimed")
    assert claimed.interrupted_stage == "Two"
    assert [name for name, _ in completed(app, task_id)] == ["One", "Two", "Three"]
    killed.complete_stage(1, {"stage": "Two"}, killed.fence, killed.created_on)
    with pytest.raises(StaleFence):
        app.save_fenced(killed, Claim(task_id, killed.fence, takeover=False))


def test_a_paused_scheduler_loses_its_task_and_its_next_write_is_refused(
    app: Switchyard, schedulers: Schedulers
) -> None:
    task_id = app.create_plan(request(), "ci").task_ids[0]
    paused = schedulers.start(slow="Two:1")
    schedulers.wait_entered(paused, "Two")
    os.kill(paused.pid, signal.SIGSTOP)
    schedulers.start()
    wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60, "takeover")
    version = app.get_task(task_id).version
    os.kill(paused.pid, signal.SIGCONT)
    wait_until(
        lambda: "leave Two" in " ".join(schedulers.lines(paused)),
        30,
        "the paused worker finishing its stage",
    )
    paused.send_signal(signal.SIGTERM)
    paused.wait(30)
    assert "task.stale_fence" in schedulers.printed(paused), schedulers.printed(paused)
    assert app.get_task(task_id).version == version, "a stale write was recorded"
    stages = completed(app, task_id)
    assert [name for name, _ in stages] == ["One", "Two", "Three"], "duplicate or lost stage"
    assert not schedulers.entered(paused, "Three"), "the paused worker kept working on the task"
