"""A tenant's tasks run in the order their plans were recorded: the questions that follow.

The scheduler claims a task only when no older task of its tenant is unfinished
(`domain.status.UNFINISHED`; enforced in the database, see `adapters.postgres.leases`).
So when a task starts, every older task of its tenant has finished, and it
stays finished: retrying or rolling it back is refused from then on (it is
*superseded*), and it can no longer be paused or resumed. Walking a tenant's
task list back from the newest therefore only needs to go as far as the newest
task that ever started: nothing older can still hold the tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from switchyard.application.scheduling import ACTIVE
from switchyard.domain.status import UNFINISHED, TaskStatus
from switchyard.domain.task import Task

LoadTask = Callable[[UUID], Task]
"""Loads a task by id (replaying its events)."""

WAITING = frozenset({TaskStatus.CREATED, TaskStatus.QUEUED})
"""Statuses of a task that waits for its turn."""


def live_tasks(task_ids: Sequence[UUID], load: LoadTask) -> list[Task]:
    """The tenant's tasks that may still be unfinished, oldest first.

    That is every task from the newest one that ever started on (all of them
    when none has started).
    """
    found: list[Task] = []
    for task_id in reversed(task_ids):
        task = load(task_id)
        found.append(task)
        if task.ever_started:
            break
    return found[::-1]


def current_task(task_ids: Sequence[UUID], load: LoadTask) -> Task:
    """The task that tenant-addressed commands act on.

    The running (or rolling back) task, else the oldest paused one, else the
    oldest waiting one, else the newest task.
    """
    live = live_tasks(task_ids, load)
    for wanted in (ACTIVE, {TaskStatus.PAUSED}, WAITING):
        chosen = next((t for t in live if t.status in wanted), None)
        if chosen is not None:
            return chosen
    return live[-1]


def blocking_task(task: Task, task_ids: Sequence[UUID], load: LoadTask) -> Task | None:
    """The nearest older unfinished task of the tenant that a waiting task waits for."""
    if task.id not in task_ids:
        return None
    older = task_ids[: task_ids.index(task.id)]
    for task_id in reversed(older):
        candidate = load(task_id)
        if candidate.status in UNFINISHED:
            return candidate
        if candidate.ever_started:
            return None
    return None


def superseding_task(task: Task, task_ids: Sequence[UUID], load: LoadTask) -> Task | None:
    """The oldest newer task of the tenant that has started, if any: it supersedes `task`."""
    if task.id not in task_ids:
        return None
    newer = task_ids[task_ids.index(task.id) + 1 :]
    return next((t for t in map(load, newer) if t.ever_started), None)
