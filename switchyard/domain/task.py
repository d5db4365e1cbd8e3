"""The Task aggregate: one tenant's switch-over, stage by stage, as events.

Public methods check the status machine (`domain.status.ALLOWED`) and the
worker's fence, then call the private event methods, which only assign (they
run again on replay). A refused command raises and records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from switchyard.domain.errors import InvalidTransition, NoCheckpoint, StaleFence
from switchyard.domain.status import ALLOWED, TaskStatus
from switchyard.domain.values import FailureInfo, StageDefinition, StageOutcome


class Task(Aggregate):
    """One tenant's switch: an ordered list of stages run under a worker's fence."""

    @event("Created")
    def __init__(
        self,
        id: UUID,
        plan_id: UUID,
        tenant_id: str,
        position: int,
        service_type: str,
        target_version: str,
        stages: Sequence[StageDefinition],
        actor: str,
    ) -> None:
        """Record a new task: one tenant's switch in a plan and the stages it will run."""
        self.plan_id = plan_id
        self.tenant_id = tenant_id
        self.position = position
        self.service_type = service_type
        self.target_version = target_version
        self.stages = tuple(stages)
        self.created_by = actor
        self.status = TaskStatus.CREATED
        self.completed: tuple[StageOutcome, ...] = ()
        self.current_stage: int | None = None
        self.pause_requested = False
        self.cancel_requested = False
        self.cancel_requested_by: str | None = None
        self.attempt = 1
        self.owner: str | None = None
        self.fence: int | None = None
        self.started_at: datetime | None = None
        self.ever_started = False
        self.failure: FailureInfo | None = None
        self.failed_stage: str | None = None
        self.message = ""

    # -- questions ---------------------------------------------------------

    @property
    def total_stages(self) -> int:
        """How many stages the task runs in all."""
        return len(self.stages)

    @property
    def has_checkpoint(self) -> bool:
        """Whether a retry from checkpoint can keep at least one completed stage."""
        return bool(self.completed)

    @property
    def next_stage(self) -> int | None:
        """The index of the stage to run next, or None when all have run."""
        index = len(self.completed)
        return index if index < self.total_stages else None

    def _require_status(self, command: str) -> None:
        if self.status not in ALLOWED[command]:
            self._refuse(command, "not allowed in this status")

    def _require_that(self, command: str, condition: bool, why: str) -> None:
        if not condition:
            self._refuse(command, why)

    def _refuse(self, command: str, why: str) -> NoReturn:
        raise InvalidTransition(
            task_id=str(self.id), status=str(self.status), command=command, why=why
        )

    def _check_fence(self, fence: int) -> None:
        if fence != self.fence:
            raise StaleFence(task_id=str(self.id), fence=fence, current_fence=self.fence)

    # -- operator commands -------------------------------------------------

    def queue(self, actor: str) -> None:
        """Make the task eligible for the scheduler."""
        self._require_status("queue")
        self._queued(actor)

    def pause(self, actor: str, reason: str | None = None) -> None:
        """Ask the task to stop at the next stage boundary (at once if none runs)."""
        self._require_status("pause")
        asked = self.pause_requested or self.cancel_requested
        self._require_that("pause", not asked, "already asked")
        self._pause_requested(actor, reason)
        if self.current_stage is None:
            self._paused(last_stage=self._last_stage_name())

    def resume(self, actor: str, reason: str | None = None) -> None:
        """Put a paused task back in the queue; it carries on from its checkpoint."""
        self._require_status("resume")
        self._resumed(actor, reason)

    def cancel(self, actor: str, reason: str | None = None) -> None:
        """Stop the task for good at the next stage boundary (at once if none runs)."""
        self._require_status("cancel")
        self._require_that("cancel", not self.cancel_requested, "already asked")
        self._cancel_requested(actor, reason)
        if self.current_stage is None:
            self._cancelled(cancelled_by=actor, last_stage=self._last_stage_name())

    def retry(self, actor: str, from_checkpoint: bool, reason: str | None = None) -> None:
        """Run the task again, skipping its completed stages or from scratch."""
        self._require_status("retry")
        if from_checkpoint and not self.has_checkpoint:
            raise NoCheckpoint(task_id=str(self.id), status=str(self.status))
        self._retry_started(actor, from_checkpoint, self.attempt + 1, reason)
        if from_checkpoint:
            self._progress_reported(
                completed_stages=[o.name for o in self.completed], total_stages=self.total_stages
            )

    def rollback(self, actor: str, reason: str | None = None) -> None:
        """Undo the completed stages, newest first, from what each recorded."""
        self._require_status("rollback")
        names = [o.name for o in reversed(self.completed)]
        self._rolling_back(actor, reason, names)
        if not names:
            self._rolled_back(reason)

    def supersede(self, by_plan_id: UUID, by_task_id: UUID, actor: str) -> None:
        """Cancel this never-started task for a newer plan's task of the same tenant."""
        self._require_status("supersede")
        self._require_that("supersede", not self.ever_started, "it has started before")
        self._superseded(by_plan_id, by_task_id, actor)

    # -- worker commands ---------------------------------------------------

    def claim(self, owner: str, fence: int, now: datetime) -> None:
        """Start (or take over) the task's work under a new, higher fencing token."""
        self._require_status("claim")
        if self.fence is not None and fence <= self.fence:
            raise StaleFence(task_id=str(self.id), fence=fence, current_fence=self.fence)
        if self.status == TaskStatus.QUEUED:
            self._started(owner, fence, self.attempt, self.total_stages, now)
            return
        interrupted = None if self.current_stage is None else self.stages[self.current_stage].name
        self._claimed(owner, fence, self.owner, self.fence, interrupted)
        if self.status == TaskStatus.RUNNING:
            self._settle_at_boundary(now)

    def begin_stage(self, fence: int) -> int:
        """Record that the next stage starts now; returns its index."""
        self._check_fence(fence)
        self._require_status("begin_stage")
        index = self.next_stage
        if self.current_stage is not None or index is None:
            self._refuse("begin_stage", "a stage runs already or none is left")
        self._stage_started(index, self.stages[index].name, fence)
        return index

    def complete_stage(
        self, index: int, result: Mapping[str, Any], fence: int, now: datetime
    ) -> None:
        """Record a stage's success and what its undo needs, then act on the boundary."""
        self._check_fence(fence)
        self._require_status("complete_stage")
        self._require_that("complete_stage", self.current_stage == index, "not the running stage")
        outcome = StageOutcome(index=index, name=self.stages[index].name, result=dict(result))
        self._stage_completed(outcome, fence)
        self._settle_at_boundary(now)

    def fail_stage(self, index: int, failure: FailureInfo, fence: int) -> None:
        """Record that a stage failed for good; the task fails with it."""
        self._check_fence(fence)
        self._require_status("fail_stage")
        self._require_that("fail_stage", self.current_stage == index, "not the running stage")
        name = self.stages[index].name
        self._stage_failed(index, name, failure, fence)
        self._failed(failure, name, [o.name for o in self.completed])

    def roll_back_stage(self, index: int, fence: int) -> None:
        """Record that a completed stage's undo succeeded."""
        self._check_fence(fence)
        newest = self.completed[-1].index if self.completed else None
        self._require_status("roll_back_stage")
        self._require_that("roll_back_stage", newest == index, "not the newest completed stage")
        self._stage_rolled_back(index, self.completed[-1].name, fence)
        if not self.completed:
            self._rolled_back(None)

    def fail_rollback(self, index: int, failure: FailureInfo, fence: int) -> None:
        """Record that a stage's undo failed; another rollback may be asked for."""
        self._check_fence(fence)
        newest = self.completed[-1].index if self.completed else None
        self._require_status("fail_rollback")
        self._require_that("fail_rollback", newest == index, "not the newest completed stage")
        self._rollback_failed(index, self.completed[-1].name, failure, fence)

    # -- helpers -----------------------------------------------------------

    def _last_stage_name(self) -> str | None:
        return self.completed[-1].name if self.completed else None

    def _settle_at_boundary(self, now: datetime) -> None:
        # Once the last stage has run the switch is done: a pending pause or cancel is moot.
        if self.next_stage is None:
            started = self.started_at or now
            duration = int((now - started).total_seconds() * 1000)
            names = [o.name for o in self.completed]
            self._completed(duration_millis=duration, completed_stages=names)
            if self.attempt > 1:
                self._retry_completed(self.attempt)
        elif self.cancel_requested:
            self._cancelled(
                cancelled_by=self.cancel_requested_by or "", last_stage=self._last_stage_name()
            )
        elif self.pause_requested:
            self._paused(last_stage=self._last_stage_name())

    # -- events (assign only: they run again on replay) ---------------------

    @event("Queued")
    def _queued(self, actor: str) -> None:
        """Record that the task became eligible for the scheduler."""
        self.status = TaskStatus.QUEUED

    @event("PauseRequested")
    def _pause_requested(self, actor: str, reason: str | None) -> None:
        """Record that someone asked the task to pause at its next stage boundary."""
        self.pause_requested = True
        self.message = reason or f"pause requested by {actor}"

    @event("Paused")
    def _paused(self, last_stage: str | None) -> None:
        """Record that the task stopped at a stage boundary (`last_stage`: the last one done)."""
        self.status = TaskStatus.PAUSED
        self.pause_requested = False
        self.owner = None

    @event("Resumed")
    def _resumed(self, actor: str, reason: str | None) -> None:
        """Record that someone put the paused task back in the queue."""
        self.status = TaskStatus.QUEUED
        self.message = reason or f"resumed by {actor}"

    @event("CancelRequested")
    def _cancel_requested(self, actor: str, reason: str | None) -> None:
        """Record that someone asked the task to stop for good at its next stage boundary."""
        self.cancel_requested = True
        self.cancel_requested_by = actor
        self.message = reason or f"cancel requested by {actor}"

    @event("Cancelled")
    def _cancelled(self, cancelled_by: str, last_stage: str | None) -> None:
        """Record that the task stopped for good (`last_stage`: the last one done)."""
        self.status = TaskStatus.CANCELLED
        self.cancel_requested = False
        self.pause_requested = False
        self.owner = None

    @event("Superseded")
    def _superseded(self, by_plan_id: UUID, by_task_id: UUID, actor: str) -> None:
        """Record that a newer plan's task of the tenant replaced this one before it started."""
        self.status = TaskStatus.CANCELLED
        self.message = f"superseded by task {by_task_id} of plan {by_plan_id}"

    @event("RetryStarted")
    def _retry_started(
        self, actor: str, from_checkpoint: bool, attempt: int, reason: str | None
    ) -> None:
        """Record that someone asked for another attempt, from the checkpoint or from scratch."""
        self.status = TaskStatus.QUEUED
        self.attempt = attempt
        self.started_at = None
        self.failure = None
        self.failed_stage = None
        self.message = reason or f"retry {attempt} by {actor}"
        if not from_checkpoint:
            self.completed = ()

    @event("ProgressReported")
    def _progress_reported(self, completed_stages: list[str], total_stages: int) -> None:
        """Record which completed stages a retry from the checkpoint keeps."""

    @event("RollingBack")
    def _rolling_back(self, actor: str, reason: str | None, stages_to_rollback: list[str]) -> None:
        """Record that someone asked to undo the completed stages, newest first."""
        self.status = TaskStatus.ROLLING_BACK
        self.message = reason or f"rollback by {actor}"

    @event("StageRolledBack")
    def _stage_rolled_back(self, index: int, stage_name: str, fence: int) -> None:
        """Record that the undo of a completed stage succeeded."""
        self.completed = self.completed[:-1]

    @event("RolledBack")
    def _rolled_back(self, reason: str | None) -> None:
        """Record that every completed stage has been undone."""
        self.status = TaskStatus.ROLLED_BACK
        self.owner = None

    @event("RollbackFailed")
    def _rollback_failed(
        self, index: int, stage_name: str, failure: FailureInfo, fence: int
    ) -> None:
        """Record that the undo of a stage failed; another rollback may be asked for."""
        self.status = TaskStatus.ROLLBACK_FAILED
        self.failure = failure
        self.message = failure.message
        self.owner = None

    @event("Started")
    def _started(
        self, owner: str, fence: int, attempt: int, total_stages: int, started_at: datetime
    ) -> None:
        """Record that a worker claimed the queued task under a new fence: an attempt starts."""
        self.status = TaskStatus.RUNNING
        self.owner = owner
        self.fence = fence
        self.ever_started = True
        if self.started_at is None:
            self.started_at = started_at

    @event("Claimed")
    def _claimed(
        self,
        owner: str,
        fence: int,
        previous_owner: str | None,
        previous_fence: int | None,
        interrupted_stage: str | None,
    ) -> None:
        """Record that a worker took the task over under a higher fence."""
        self.owner = owner
        self.fence = fence
        self.current_stage = None

    @event("StageStarted")
    def _stage_started(self, index: int, stage_name: str, fence: int) -> None:
        """Record that a stage started under the worker's fence."""
        self.current_stage = index

    @event("StageCompleted")
    def _stage_completed(self, outcome: StageOutcome, fence: int) -> None:
        """Record that a stage succeeded, with what its undo needs (`outcome.result`)."""
        self.current_stage = None
        self.completed = (*self.completed, outcome)

    @event("StageFailed")
    def _stage_failed(self, index: int, stage_name: str, failure: FailureInfo, fence: int) -> None:
        """Record that a stage failed for good."""
        self.current_stage = None
        self.failure = failure
        self.failed_stage = stage_name
        self.message = failure.message

    @event("Failed")
    def _failed(self, failure: FailureInfo, failed_stage: str, completed_stages: list[str]) -> None:
        """Record that the task failed, with the stage and the reason."""
        self.status = TaskStatus.FAILED
        self.pause_requested = False
        self.cancel_requested = False
        self.owner = None

    @event("Completed")
    def _completed(self, duration_millis: int, completed_stages: list[str]) -> None:
        """Record that the task's last stage completed: the switch is done."""
        self.status = TaskStatus.COMPLETED
        self.pause_requested = False
        self.cancel_requested = False
        self.owner = None
        self.message = ""

    @event("RetryCompleted")
    def _retry_completed(self, attempt: int) -> None:
        """Record that a retried attempt completed."""
