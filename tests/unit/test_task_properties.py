"""Property: random command sequences keep a Task inside its status machine and replayable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.settings import Settings
from switchyard.domain.errors import InvalidTransition, NoCheckpoint, StaleFence
from switchyard.domain.status import ALLOWED, SETTLED, TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.values import FailureInfo, FailureType
from tests.support.builders import new_task
from tests.support.state import public_state

S = TaskStatus
MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FAILURE = FailureInfo(type=FailureType.TIMEOUT, message="no answer in 30 s")

TARGETS: dict[str, frozenset[TaskStatus]] = {
    "queue": frozenset({S.QUEUED}),
    "claim": frozenset({S.RUNNING, S.PAUSED, S.CANCELLED, S.ROLLING_BACK}),
    "begin_stage": frozenset({S.RUNNING}),
    "complete_stage": frozenset({S.RUNNING, S.COMPLETED, S.PAUSED, S.CANCELLED}),
    "fail_stage": frozenset({S.FAILED}),
    "pause": frozenset({S.RUNNING, S.PAUSED}),
    "resume": frozenset({S.QUEUED}),
    "cancel": frozenset({S.RUNNING, S.CANCELLED}),
    "retry": frozenset({S.QUEUED}),
    "rollback": frozenset({S.ROLLING_BACK, S.ROLLED_BACK}),
    "roll_back_stage": frozenset({S.ROLLING_BACK, S.ROLLED_BACK}),
    "fail_rollback": frozenset({S.ROLLBACK_FAILED}),
    "supersede": frozenset({S.CANCELLED}),
}
"""The statuses each command may leave the task in (from domain.status's diagram)."""


WEIGHTS = {name: 1 for name in ALLOWED} | {
    "claim": 2,
    "begin_stage": 6,
    "complete_stage": 6,
    "roll_back_stage": 4,
}
"""Workers' progress commands come up more, so sequences reach the late statuses."""
WEIGHTED_COMMANDS = [name for name in sorted(ALLOWED) for _ in range(WEIGHTS[name])]


@dataclass(frozen=True)
class Command:
    """A command picked among all of them, or (mostly) among those the status allows.

    `honest` gives the worker's current fence and the right stage index; otherwise the
    fence is stale and the index arbitrary.
    """

    pick: int
    anywhere: bool
    honest: bool
    index: int
    from_checkpoint: bool

    def name(self, status: TaskStatus) -> str:
        pool = WEIGHTED_COMMANDS
        if not self.anywhere:
            pool = [name for name in WEIGHTED_COMMANDS if status in ALLOWED[name]]
        return pool[self.pick % len(pool)]


commands = st.builds(
    Command,
    pick=st.integers(0, 255),
    anywhere=st.sampled_from([False, False, False, True]),
    honest=st.sampled_from([True, True, True, False]),
    index=st.integers(0, 2),
    from_checkpoint=st.booleans(),
)


def give(task: Task, name: str, command: Command, now: datetime) -> None:
    fence = task.fence or 0
    newest = task.completed[-1].index if task.completed else None
    running = task.current_stage
    if name == "claim":
        task.claim("worker", fence + 1 if command.honest else fence, now)
        return
    if not command.honest:
        fence -= 1
    stage = running if name in ("complete_stage", "fail_stage") else newest
    index = stage if command.honest and stage is not None else command.index
    {
        "queue": lambda: task.queue("ops"),
        "pause": lambda: task.pause("ops"),
        "resume": lambda: task.resume("ops"),
        "cancel": lambda: task.cancel("ops"),
        "retry": lambda: task.retry("ops", command.from_checkpoint),
        "rollback": lambda: task.rollback("ops"),
        "supersede": lambda: task.supersede(uuid4(), uuid4(), "ops"),
        "begin_stage": lambda: task.begin_stage(fence),
        "complete_stage": lambda: task.complete_stage(index, {"old": index}, fence, now),
        "fail_stage": lambda: task.fail_stage(index, FAILURE, fence),
        "roll_back_stage": lambda: task.roll_back_stage(index, fence),
        "fail_rollback": lambda: task.fail_rollback(index, FAILURE, fence),
    }[name]()


def check_invariants(task: Task, highest_fence: int | None) -> None:
    assert isinstance(task.status, TaskStatus)
    assert [o.index for o in task.completed] == list(range(len(task.completed)))
    assert task.current_stage is None or task.status is S.RUNNING
    assert task.owner is None or task.status not in SETTLED
    assert task.fence == highest_fence


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(commands, min_size=20, max_size=60))
def test_random_commands_keep_the_task_in_its_machine_and_replayable(
    sequence: list[Command],
) -> None:
    task = new_task()
    highest_fence = None
    for step, command in enumerate(sequence):
        before, status, pending = public_state(task), task.status, len(task._pending_events)
        name = command.name(status)
        try:
            give(task, name, command, START + timedelta(seconds=step))
        except (InvalidTransition, NoCheckpoint, StaleFence):
            assert public_state(task) == before
            assert len(task._pending_events) == pending
            continue
        assert status in ALLOWED[name]
        assert task.status in TARGETS[name]
        assert len(task._pending_events) > pending
        if name == "claim":
            highest_fence = task.fence
        check_invariants(task, highest_fence)

    app = bootstrap(Settings(database_url=None).with_loopback(), env=MEMORY_ENV)
    try:
        app.save(task)
        reloaded = app.repository.get(task.id)
    finally:
        app.close()
    assert public_state(reloaded) == public_state(task)
    assert repr(public_state(reloaded)) == repr(public_state(task))
