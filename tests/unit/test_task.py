"""The Task status machine: every legal transition; every refused command records nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from switchyard.domain.errors import SwitchyardError
from switchyard.domain.status import ALLOWED, TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.values import FailureInfo, FailureType
from tests.support.builders import new_task

S = TaskStatus
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BROKEN = FailureInfo(type=FailureType.HEALTH_CHECK, message="instance 2 reports 2.4.0")


def names(task: Task) -> list[str]:
    """The names of the events recorded since the last call, and forget them."""
    return [type(e).__name__ for e in task.collect_events()]


def complete(task: Task, fence: int = 1, now: datetime = NOW) -> None:
    index = task.begin_stage(fence)
    task.complete_stage(index, {"previous": f"v{index}"}, fence, now)


def running(completed: int = 0) -> Task:
    task = new_task()
    task.queue("ops")
    task.claim("worker-1", 1, NOW)
    for _ in range(completed):
        complete(task)
    return task


def task_in(status: TaskStatus) -> Task:
    """A task in the given status; from RUNNING on, with at least one completed stage."""
    task = new_task()
    if status is S.CREATED:
        return task
    task.queue("ops")
    if status is S.PAUSED:
        task.pause("ops")
    if status is S.CANCELLED:
        task.cancel("ops")
    if status in (S.QUEUED, S.PAUSED, S.CANCELLED):
        return task
    task.claim("worker-1", 1, NOW)
    complete(task)
    if status is S.RUNNING:
        return task
    if status is S.FAILED:
        task.fail_stage(task.begin_stage(1), BROKEN, 1)
        return task
    complete(task)
    complete(task)
    if status is S.COMPLETED:
        return task
    task.rollback("ops")
    if status is S.ROLLBACK_FAILED:
        task.fail_rollback(2, BROKEN, 1)
    elif status is S.ROLLED_BACK:
        for index in (2, 1, 0):
            task.roll_back_stage(index, 1)
    return task


def refused(task: Task, command: Callable[[], Any]) -> SwitchyardError:
    """Run a command that must be refused; check it recorded and changed nothing."""
    task.collect_events()
    before = dict(vars(task))
    with pytest.raises(SwitchyardError) as info:
        command()
    assert task.collect_events() == []
    assert dict(vars(task)) == before
    return info.value


WORKER_FENCED = {"begin_stage", "complete_stage", "fail_stage", "roll_back_stage", "fail_rollback"}


def give(task: Task, command: str) -> None:
    """Give a command with arguments that would be right if the status allowed it."""
    fence = task.fence or 1
    newest = task.completed[-1].index if task.completed else 0
    current = task.current_stage or 0
    {
        "queue": lambda: task.queue("ops"),
        "claim": lambda: task.claim("worker-2", fence + 1, NOW),
        "begin_stage": lambda: task.begin_stage(fence),
        "complete_stage": lambda: task.complete_stage(current, {}, fence, NOW),
        "fail_stage": lambda: task.fail_stage(current, BROKEN, fence),
        "pause": lambda: task.pause("ops"),
        "resume": lambda: task.resume("ops"),
        "cancel": lambda: task.cancel("ops"),
        "retry": lambda: task.retry("ops", from_checkpoint=False),
        "rollback": lambda: task.rollback("ops"),
        "supersede": lambda: task.supersede(uuid4(), uuid4(), "ops"),
        "roll_back_stage": lambda: task.roll_back_stage(newest, fence),
        "fail_rollback": lambda: task.fail_rollback(newest, BROKEN, fence),
    }[command]()


EXPECTED_ALLOWED = {
    "queue": {S.CREATED},
    "claim": {S.QUEUED, S.RUNNING, S.ROLLING_BACK},
    "begin_stage": {S.RUNNING},
    "complete_stage": {S.RUNNING},
    "fail_stage": {S.RUNNING},
    "pause": {S.CREATED, S.QUEUED, S.RUNNING},
    "resume": {S.PAUSED},
    "cancel": {S.CREATED, S.QUEUED, S.RUNNING, S.PAUSED},
    "retry": {S.FAILED, S.CANCELLED, S.ROLLED_BACK},
    "rollback": {S.COMPLETED, S.FAILED, S.CANCELLED, S.PAUSED, S.ROLLBACK_FAILED},
    "supersede": {S.CREATED, S.QUEUED},
    "roll_back_stage": {S.ROLLING_BACK},
    "fail_rollback": {S.ROLLING_BACK},
}
"""The statuses each command is allowed in, written out here: widening `ALLOWED` must
fail a test, not quietly drop the cases that check the refusals."""


class TestStatusMachine:
    def test_allows_each_command_in_exactly_the_expected_statuses(self) -> None:
        assert {command: set(statuses) for command, statuses in ALLOWED.items()} == (
            EXPECTED_ALLOWED
        )

    @pytest.mark.parametrize(
        ("command", "status"),
        [(c, s) for c, allowed in EXPECTED_ALLOWED.items() for s in S if s not in allowed],
    )
    def test_refuses_every_command_outside_its_statuses(self, command: str, status: S) -> None:
        task = task_in(status)
        never_claimed = task.fence is None and command in WORKER_FENCED
        error = refused(task, lambda: give(task, command))
        assert error.code == ("task.stale_fence" if never_claimed else "task.invalid_transition")
        assert task.status is status

    @pytest.mark.parametrize("status", list(S))
    def test_builds_each_status_it_is_tested_in(self, status: S) -> None:
        assert task_in(status).status is status


class TestQueue:
    def test_queues_a_created_task(self) -> None:
        task = new_task()
        task.collect_events()
        task.queue("ops")
        assert names(task) == ["Queued"]
        assert task.status is S.QUEUED

    def test_refuses_a_queued_task(self) -> None:
        task = task_in(S.QUEUED)
        assert refused(task, lambda: task.queue("ops")).code == "task.invalid_transition"


class TestClaim:
    def test_starts_a_queued_task(self) -> None:
        task = task_in(S.QUEUED)
        names(task)
        task.claim("worker-1", 7, NOW)
        assert names(task) == ["Started"]
        assert (task.status, task.owner, task.fence) == (S.RUNNING, "worker-1", 7)
        assert task.started_at == NOW

    def test_takes_over_a_running_task_and_drops_the_interrupted_stage(self) -> None:
        task = running(completed=1)
        task.begin_stage(1)
        names(task)
        task.claim("worker-2", 2, NOW)
        assert names(task) == ["Claimed"]
        assert (task.status, task.owner, task.fence) == (S.RUNNING, "worker-2", 2)
        assert task.current_stage is None
        assert task.begin_stage(2) == 1

    def test_takeover_settles_a_pause_asked_during_the_interrupted_stage(self) -> None:
        task = running()
        task.begin_stage(1)
        task.pause("ops")
        names(task)
        task.claim("worker-2", 2, NOW)
        assert names(task) == ["Claimed", "Paused"]
        assert task.status is S.PAUSED

    def test_takes_over_a_task_rolling_back(self) -> None:
        task = task_in(S.ROLLING_BACK)
        names(task)
        task.claim("worker-2", 2, NOW)
        assert names(task) == ["Claimed"]
        assert (task.status, task.fence) == (S.ROLLING_BACK, 2)

    @pytest.mark.parametrize("fence", [0, 1])
    def test_refuses_a_fence_not_above_the_current_one(self, fence: int) -> None:
        task = running()
        assert refused(task, lambda: task.claim("worker-2", fence, NOW)).code == "task.stale_fence"

    def test_refuses_a_completed_task(self) -> None:
        task = task_in(S.COMPLETED)
        error = refused(task, lambda: task.claim("worker-2", 2, NOW))
        assert error.code == "task.invalid_transition"


class TestStages:
    def test_begins_the_next_stage(self) -> None:
        task = running(completed=1)
        names(task)
        assert task.begin_stage(1) == 1
        assert names(task) == ["StageStarted"]
        assert task.current_stage == 1

    def test_completes_a_stage_and_keeps_what_its_undo_needs(self) -> None:
        task = running()
        task.begin_stage(1)
        names(task)
        task.complete_stage(0, {"previous": "2.3.0"}, 1, NOW)
        assert names(task) == ["StageCompleted"]
        assert task.status is S.RUNNING
        assert [(o.index, o.name, dict(o.result)) for o in task.completed] == [
            (0, "ConfigUpdate", {"previous": "2.3.0"})
        ]

    def test_completes_the_task_at_the_last_boundary(self) -> None:
        task = running(completed=2)
        task.begin_stage(1)
        task.collect_events()
        task.complete_stage(2, {}, 1, NOW + timedelta(seconds=5))
        events = task.collect_events()
        assert [type(e).__name__ for e in events] == ["StageCompleted", "Completed"]
        assert events[-1].duration_millis == 5000
        assert (task.status, task.owner) == (S.COMPLETED, None)

    def test_fails_the_task_when_a_stage_fails(self) -> None:
        task = running(completed=1)
        task.begin_stage(1)
        names(task)
        task.fail_stage(1, BROKEN, 1)
        assert names(task) == ["StageFailed", "Failed"]
        assert (task.status, task.failure, task.failed_stage) == (S.FAILED, BROKEN, "Broadcast")
        assert task.owner is None

    def test_refuses_to_begin_a_stage_while_one_runs(self) -> None:
        task = running()
        task.begin_stage(1)
        assert refused(task, lambda: task.begin_stage(1)).code == "task.invalid_transition"

    def test_refuses_to_complete_a_stage_that_does_not_run(self) -> None:
        task = running()
        task.begin_stage(1)
        error = refused(task, lambda: task.complete_stage(1, {}, 1, NOW))
        assert error.code == "task.invalid_transition"

    def test_refuses_to_fail_a_stage_that_does_not_run(self) -> None:
        task = running()
        error = refused(task, lambda: task.fail_stage(0, BROKEN, 1))
        assert error.code == "task.invalid_transition"

    def test_refuses_a_zombie_worker_after_a_takeover(self) -> None:
        task = running()
        task.begin_stage(1)
        task.claim("worker-2", 2, NOW)
        assert refused(task, lambda: task.begin_stage(1)).code == "task.stale_fence"
        error = refused(task, lambda: task.complete_stage(0, {}, 1, NOW))
        assert error.code == "task.stale_fence"
        assert refused(task, lambda: task.fail_stage(0, BROKEN, 1)).code == "task.stale_fence"


class TestPause:
    @pytest.mark.parametrize("status", [S.CREATED, S.QUEUED])
    def test_pauses_at_once_a_task_not_started(self, status: S) -> None:
        task = task_in(status)
        names(task)
        task.pause("ops", "change freeze")
        assert names(task) == ["PauseRequested", "Paused"]
        assert (task.status, task.message) == (S.PAUSED, "change freeze")

    def test_pauses_at_once_between_stages(self) -> None:
        task = running(completed=1)
        names(task)
        task.pause("ops")
        assert names(task) == ["PauseRequested", "Paused"]
        assert (task.status, task.owner) == (S.PAUSED, None)

    def test_waits_for_the_running_stage_to_end(self) -> None:
        task = running()
        task.begin_stage(1)
        names(task)
        task.pause("ops")
        assert names(task) == ["PauseRequested"]
        assert (task.status, task.pause_requested) == (S.RUNNING, True)
        task.complete_stage(0, {}, 1, NOW)
        assert names(task) == ["StageCompleted", "Paused"]
        assert (task.status, task.pause_requested, len(task.completed)) == (S.PAUSED, False, 1)

    def test_refuses_a_second_pause_while_one_is_pending(self) -> None:
        task = running()
        task.begin_stage(1)
        task.pause("ops")
        assert refused(task, lambda: task.pause("ops")).code == "task.invalid_transition"

    def test_refuses_a_completed_task(self) -> None:
        task = task_in(S.COMPLETED)
        assert refused(task, lambda: task.pause("ops")).code == "task.invalid_transition"


class TestResume:
    def test_requeues_a_paused_task_which_carries_on_from_its_checkpoint(self) -> None:
        task = running(completed=1)
        task.pause("ops")
        names(task)
        task.resume("ops")
        assert names(task) == ["Resumed"]
        assert task.status is S.QUEUED
        task.claim("worker-2", 2, NOW)
        assert task.begin_stage(2) == 1

    def test_a_pause_asked_during_the_last_stage_is_moot(self) -> None:
        task = running(completed=2)
        task.begin_stage(1)
        task.pause("ops")
        names(task)
        task.complete_stage(2, {}, 1, NOW)
        assert names(task) == ["StageCompleted", "Completed"]
        assert (task.status, task.pause_requested) == (S.COMPLETED, False)

    def test_refuses_a_running_task(self) -> None:
        task = task_in(S.RUNNING)
        assert refused(task, lambda: task.resume("ops")).code == "task.invalid_transition"


class TestCancel:
    @pytest.mark.parametrize("status", [S.CREATED, S.QUEUED, S.PAUSED])
    def test_cancels_at_once_when_no_stage_runs(self, status: S) -> None:
        task = task_in(status)
        names(task)
        task.cancel("ops")
        assert names(task) == ["CancelRequested", "Cancelled"]
        assert task.status is S.CANCELLED

    def test_waits_for_the_running_stage_to_end(self) -> None:
        task = running()
        task.begin_stage(1)
        names(task)
        task.cancel("sre-1")
        assert names(task) == ["CancelRequested"]
        assert task.status is S.RUNNING
        task.collect_events()
        task.complete_stage(0, {}, 1, NOW)
        events = task.collect_events()
        assert [type(e).__name__ for e in events] == ["StageCompleted", "Cancelled"]
        assert events[-1].cancelled_by == "sre-1"
        assert (task.status, task.cancel_requested) == (S.CANCELLED, False)

    def test_a_cancel_asked_during_the_last_stage_is_moot(self) -> None:
        task = running(completed=2)
        task.begin_stage(1)
        task.cancel("ops")
        names(task)
        task.complete_stage(2, {}, 1, NOW)
        assert names(task) == ["StageCompleted", "Completed"]
        assert (task.status, task.cancel_requested) == (S.COMPLETED, False)

    def test_cancel_overrides_a_pending_pause(self) -> None:
        task = running()
        task.begin_stage(1)
        task.pause("ops")
        task.cancel("ops")
        task.complete_stage(0, {}, 1, NOW)
        assert task.status is S.CANCELLED

    def test_refuses_a_second_cancel_while_one_is_pending(self) -> None:
        task = running()
        task.begin_stage(1)
        task.cancel("ops")
        assert refused(task, lambda: task.cancel("ops")).code == "task.invalid_transition"

    def test_refuses_a_failed_task(self) -> None:
        task = task_in(S.FAILED)
        assert refused(task, lambda: task.cancel("ops")).code == "task.invalid_transition"


class TestRetry:
    def test_from_checkpoint_keeps_completed_stages_and_reports_progress(self) -> None:
        task = task_in(S.FAILED)
        task.collect_events()
        task.retry("ops", from_checkpoint=True)
        events = task.collect_events()
        assert [type(e).__name__ for e in events] == ["RetryStarted", "ProgressReported"]
        assert events[-1].completed_stages == ["ConfigUpdate"]
        assert events[-1].total_stages == 3
        assert (task.status, task.attempt, task.failure) == (S.QUEUED, 2, None)
        assert [o.name for o in task.completed] == ["ConfigUpdate"]
        task.claim("worker-2", 2, NOW)
        assert task.begin_stage(2) == 1

    def test_from_scratch_clears_completed_stages(self) -> None:
        task = task_in(S.FAILED)
        names(task)
        task.retry("ops", from_checkpoint=False)
        assert names(task) == ["RetryStarted"]
        assert (task.status, task.attempt, task.completed) == (S.QUEUED, 2, ())

    def test_from_scratch_after_a_rollback(self) -> None:
        task = task_in(S.ROLLED_BACK)
        task.retry("ops", from_checkpoint=False)
        assert (task.status, task.completed) == (S.QUEUED, ())

    def test_records_retry_completed_when_the_retried_attempt_completes(self) -> None:
        task = task_in(S.FAILED)
        task.retry("ops", from_checkpoint=True)
        task.claim("worker-2", 2, NOW)
        complete(task, fence=2)
        names(task)
        complete(task, fence=2)
        assert names(task) == ["StageStarted", "StageCompleted", "Completed", "RetryCompleted"]

    def test_first_attempt_completes_without_retry_completed(self) -> None:
        task = running(completed=2)
        names(task)
        complete(task)
        assert "RetryCompleted" not in names(task)

    @pytest.mark.parametrize("status", [S.CANCELLED, S.ROLLED_BACK])
    def test_refuses_from_checkpoint_when_nothing_can_be_kept(self, status: S) -> None:
        task = task_in(status)
        error = refused(task, lambda: task.retry("ops", from_checkpoint=True))
        assert error.code == "task.no_checkpoint"

    def test_refuses_a_completed_task(self) -> None:
        task = task_in(S.COMPLETED)
        error = refused(task, lambda: task.retry("ops", from_checkpoint=True))
        assert error.code == "task.invalid_transition"


class TestSupersede:
    @pytest.mark.parametrize("status", [S.CREATED, S.QUEUED])
    def test_cancels_a_waiting_task_naming_the_newer_one(self, status: S) -> None:
        task = task_in(status)
        names(task)
        plan_id, task_id = uuid4(), uuid4()
        task.supersede(plan_id, task_id, "carol")
        events = task.collect_events()
        assert [type(e).__name__ for e in events] == ["Superseded"]
        assert (events[0].by_plan_id, events[0].by_task_id, events[0].actor) == (
            plan_id,
            task_id,
            "carol",
        )
        assert task.status == S.CANCELLED

    def test_refuses_a_task_that_started_before(self) -> None:
        task = task_in(S.FAILED)
        task.retry("ops", from_checkpoint=False)
        error = refused(task, lambda: task.supersede(uuid4(), uuid4(), "carol"))
        assert error.code == "task.invalid_transition"


class TestRollback:
    def test_announces_the_stages_to_undo_newest_first(self) -> None:
        task = task_in(S.COMPLETED)
        task.collect_events()
        task.rollback("ops", "bad release")
        events = task.collect_events()
        assert [type(e).__name__ for e in events] == ["RollingBack"]
        assert events[0].stages_to_rollback == ["HealthCheck", "Broadcast", "ConfigUpdate"]
        assert task.status is S.ROLLING_BACK

    def test_undoes_stages_newest_first_then_is_rolled_back(self) -> None:
        task = task_in(S.ROLLING_BACK)
        names(task)
        task.roll_back_stage(2, 1)
        task.roll_back_stage(1, 1)
        assert names(task) == ["StageRolledBack", "StageRolledBack"]
        assert task.status is S.ROLLING_BACK
        task.roll_back_stage(0, 1)
        assert names(task) == ["StageRolledBack", "RolledBack"]
        assert (task.status, task.completed) == (S.ROLLED_BACK, ())

    def test_refuses_to_undo_an_older_stage_first(self) -> None:
        task = task_in(S.ROLLING_BACK)
        assert refused(task, lambda: task.roll_back_stage(0, 1)).code == "task.invalid_transition"

    def test_a_failed_undo_can_be_rolled_back_again(self) -> None:
        task = task_in(S.ROLLING_BACK)
        task.roll_back_stage(2, 1)
        names(task)
        task.fail_rollback(1, BROKEN, 1)
        assert names(task) == ["RollbackFailed"]
        assert (task.status, task.failure) == (S.ROLLBACK_FAILED, BROKEN)
        task.collect_events()
        task.rollback("ops")
        events = task.collect_events()
        assert events[0].stages_to_rollback == ["Broadcast", "ConfigUpdate"]
        assert task.status is S.ROLLING_BACK

    @pytest.mark.parametrize("status", [S.PAUSED, S.CANCELLED])
    def test_goes_straight_to_rolled_back_with_nothing_to_undo(self, status: S) -> None:
        task = task_in(status)
        names(task)
        task.rollback("ops")
        assert names(task) == ["RollingBack", "RolledBack"]
        assert task.status is S.ROLLED_BACK

    def test_refuses_a_stale_fence(self) -> None:
        task = task_in(S.ROLLING_BACK)
        task.claim("worker-2", 2, NOW)
        assert refused(task, lambda: task.roll_back_stage(2, 1)).code == "task.stale_fence"
        assert refused(task, lambda: task.fail_rollback(2, BROKEN, 1)).code == "task.stale_fence"

    def test_refuses_a_running_task(self) -> None:
        task = task_in(S.RUNNING)
        assert refused(task, lambda: task.rollback("ops")).code == "task.invalid_transition"
