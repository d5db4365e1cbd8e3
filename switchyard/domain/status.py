"""The task status machine, as data, and the plan status derived from its tasks.

Task statuses and the commands each allows:

    CREATED ──queue──▶ QUEUED ──claim──▶ RUNNING ──(last stage completed)──▶ COMPLETED
       │                 │  ▲               │ ├──(stage failed)──▶ FAILED
       │                 │  └───resume───┐  │ ├──(boundary, pause requested)──▶ PAUSED
       │                 └──pause──▶ PAUSED ◀┘ └──(boundary, cancel requested)──▶ CANCELLED
       └──pause / cancel (at once: no stage runs)
    CREATED, QUEUED ──superseded by a newer plan (never started)──▶ CANCELLED
    FAILED, CANCELLED ──retry──▶ QUEUED            ROLLED_BACK ──retry (from scratch)──▶ QUEUED
    COMPLETED, FAILED, CANCELLED, PAUSED, ROLLBACK_FAILED ──rollback──▶ ROLLING_BACK
    ROLLING_BACK ──(every completed stage undone)──▶ ROLLED_BACK
    ROLLING_BACK ──(an undo failed)──▶ ROLLBACK_FAILED
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum


class TaskStatus(StrEnum):
    """Where one tenant's switch stands."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"


S = TaskStatus

ALLOWED: dict[str, frozenset[TaskStatus]] = {
    "queue": frozenset({S.CREATED}),
    "claim": frozenset({S.QUEUED, S.RUNNING, S.ROLLING_BACK}),
    "begin_stage": frozenset({S.RUNNING}),
    "complete_stage": frozenset({S.RUNNING}),
    "fail_stage": frozenset({S.RUNNING}),
    "pause": frozenset({S.CREATED, S.QUEUED, S.RUNNING}),
    "resume": frozenset({S.PAUSED}),
    "cancel": frozenset({S.CREATED, S.QUEUED, S.RUNNING, S.PAUSED}),
    "retry": frozenset({S.FAILED, S.CANCELLED, S.ROLLED_BACK}),
    "rollback": frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.PAUSED, S.ROLLBACK_FAILED}),
    "supersede": frozenset({S.CREATED, S.QUEUED}),
    "roll_back_stage": frozenset({S.ROLLING_BACK}),
    "fail_rollback": frozenset({S.ROLLING_BACK}),
}
"""For each task command, the statuses in which it may be given."""

SETTLED = frozenset(
    {S.PAUSED, S.COMPLETED, S.FAILED, S.CANCELLED, S.ROLLED_BACK, S.ROLLBACK_FAILED}
)
"""Statuses in which no worker has anything to do until an operator acts."""

UNFINISHED = frozenset({S.CREATED, S.QUEUED, S.RUNNING, S.PAUSED, S.ROLLING_BACK})
"""Statuses of a task that still holds its tenant: newer tasks of the tenant wait for it."""


class PlanStatus(StrEnum):
    """Where a plan stands, derived from its tasks' statuses."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    PARTIALLY_FAILED = "PARTIALLY_FAILED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"
    PARTIALLY_ROLLED_BACK = "PARTIALLY_ROLLED_BACK"


def derive_plan_status(task_statuses: Iterable[TaskStatus]) -> PlanStatus:
    """Derive a plan's status from its tasks' statuses (see the README's table)."""
    counts = Counter(task_statuses)
    total = sum(counts.values())
    waiting = counts[S.CREATED] + counts[S.QUEUED]
    if counts[S.ROLLING_BACK]:
        return PlanStatus.ROLLING_BACK
    if counts[S.RUNNING] or (waiting and waiting < total):
        return PlanStatus.RUNNING
    if waiting:
        return PlanStatus.QUEUED
    if counts[S.PAUSED]:
        return PlanStatus.PAUSED
    failed = counts[S.FAILED] + counts[S.ROLLBACK_FAILED]
    if failed:
        return PlanStatus.PARTIALLY_FAILED if failed < total else PlanStatus.FAILED
    if counts[S.CANCELLED]:
        return PlanStatus.CANCELLED
    if counts[S.COMPLETED] == total:
        return PlanStatus.COMPLETED
    if counts[S.ROLLED_BACK] == total:
        return PlanStatus.ROLLED_BACK
    return PlanStatus.PARTIALLY_ROLLED_BACK
