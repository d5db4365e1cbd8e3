"""The scheduler's use case: work on a claimed task, stage by stage, from its checkpoint.

The worker replays the Task (its events are its checkpoints), records the claim
under the lease's fence, and runs stages until the task reaches a boundary it
must stop at (done, failed, paused, cancelled) or the worker is asked to stop.
Each stage's completion and the next stage's start are one save. Every save is
fenced: once another worker has taken the task over, it is refused and this
worker lets go. A save that loses an optimistic-concurrency race to an
operator's command is redone on the fresh task. People are notified when a
task fails for good and when a worker takes one over; a notifier that fails is
logged and never stops the work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack

from eventsourcing.persistence import RecordConflictError
from structlog.contextvars import bound_contextvars

from switchyard.application.app import Switchyard
from switchyard.application.metrics import NO_METER, Meter
from switchyard.application.notifications import Notification, NotificationType, Notifier, Severity
from switchyard.application.ports import Claim, Clock, Leases, Progress, StageAbandoned, StepContext
from switchyard.application.stages import StageRunner
from switchyard.domain.errors import InvalidTransition, StaleFence
from switchyard.domain.status import SETTLED, TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.values import FailureInfo, FailureType

log = logging.getLogger(__name__)

SAVE_ATTEMPTS = 5
"""How often a worker's save is redone after losing a race to an operator's command."""


class ActiveClaims:
    """The claims a scheduler process works on, their progress, and which were lost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress: dict[Claim, Progress] = {}
        self._lost: set[Claim] = set()

    def report(self, claim: Claim, progress: Progress) -> None:
        """Record a claim's progress (and that it is active)."""
        with self._lock:
            self._progress[claim] = progress

    def forget(self, claim: Claim) -> None:
        """The worker let go of the claim."""
        with self._lock:
            self._progress.pop(claim, None)
            self._lost.discard(claim)

    def mark_lost(self, claim: Claim) -> None:
        """The lease could not be renewed: another worker may hold the task now."""
        with self._lock:
            self._lost.add(claim)

    def is_lost(self, claim: Claim) -> bool:
        """Whether the claim's lease was lost."""
        with self._lock:
            return claim in self._lost

    def snapshot(self) -> list[tuple[Claim, Progress]]:
        """The active claims and their progress, for the heartbeat."""
        with self._lock:
            return list(self._progress.items())


def heartbeat(claims: ActiveClaims, leases: Leases, owner: str, ttl_seconds: float) -> None:
    """Renew every active claim's lease and publish its progress; note the lost ones."""
    for claim, progress in claims.snapshot():
        if not leases.renew(claim, owner, ttl_seconds, progress):
            log.warning("lease of task %s (fence %s) was lost", claim.task_id, claim.fence)
            claims.mark_lost(claim)


class TaskWorker:
    """Runs claimed tasks for one scheduler process; `meter` hears each takeover."""

    def __init__(
        self,
        app: Switchyard,
        leases: Leases,
        stages: StageRunner,
        clock: Clock,
        owner: str,
        claims: ActiveClaims,
        notifier: Notifier,
        stopping: Callable[[], bool] = lambda: False,
        meter: Meter = NO_METER,
    ) -> None:
        self.app = app
        self.leases = leases
        self.stages = stages
        self.clock = clock
        self.owner = owner
        self.claims = claims
        self.notifier = notifier
        self.stopping = stopping
        self.meter = meter

    def work(self, claim: Claim) -> None:
        """Work on the claimed task until it reaches a boundary it stops at; then let go.

        Lines logged meanwhile carry the task, its plan and tenant, and the fence.
        """
        settled = False
        interrupted: list[str | None] = [None]

        def start(task: Task, claim: Claim) -> None:
            interrupted[0] = _running_stage(task)  # what the Claimed event records
            self._start(task, claim)

        with ExitStack() as context:
            context.enter_context(bound_contextvars(task=str(claim.task_id), fence=claim.fence))
            try:
                loaded = self.app.get_task(claim.task_id)
                tenant = loaded.tenant_id
                context.enter_context(bound_contextvars(plan=str(loaded.plan_id), tenant=tenant))
                log.info("task %s: claimed (fence %d)", claim.task_id, claim.fence)
                task = self._save(loaded, claim, start)
                if task is not None and claim.takeover:
                    self.meter.task_taken_over()
                    message = f"taken over by {self.owner}"
                    kind = NotificationType.TAKEOVER
                    self._notify(task, kind, Severity.WARNING, message, interrupted[0])
                while task is not None and not self.claims.is_lost(claim):
                    settled = task.status in SETTLED
                    task = self._step(task, claim)
            finally:
                self.claims.forget(claim)
                if not settled:  # a settling save clears the lease in its own transaction
                    self.leases.release(claim, self.owner)

    def _step(self, task: Task, claim: Claim) -> Task | None:
        try:
            if task.status == TaskStatus.RUNNING and task.current_stage is not None:
                return self._run_stage(task, claim, task.current_stage)
            if task.status == TaskStatus.ROLLING_BACK and task.completed and not self.stopping():
                return self._undo_stage(task, claim)
        except StageAbandoned:
            log.info("task %s: stopping mid-stage; it will be taken over", claim.task_id)
        return None

    def _start(self, task: Task, claim: Claim) -> None:
        task.claim(self.owner, claim.fence, self.clock.now())
        self._begin_next(task, claim)

    def _begin_next(self, task: Task, claim: Claim) -> None:
        ready = task.status == TaskStatus.RUNNING and task.current_stage is None
        if ready and task.next_stage is not None and not self.stopping():
            task.begin_stage(claim.fence)

    def _run_stage(self, task: Task, claim: Claim, index: int) -> Task | None:
        stage = task.stages[index]
        self.claims.report(claim, Progress(stage.name, len(task.completed), task.total_stages))
        run = self.stages.run(stage, self._context(task, claim))

        def finish(fresh: Task, claim: Claim) -> None:
            if run.failure is not None:
                fresh.fail_stage(index, run.failure, claim.fence)
            else:
                fresh.complete_stage(index, run.result, claim.fence, self.clock.now())
                self._begin_next(fresh, claim)

        saved = self._save(task, claim, finish)
        if saved is not None and run.failure is not None:
            self._notify_failed(saved, stage.name, run.failure, run.retries_exhausted)
        return saved

    def _notify_failed(
        self, task: Task, stage: str, failure: FailureInfo, retries_exhausted: bool
    ) -> None:
        kind = NotificationType.NON_RETRYABLE_FAILED
        if retries_exhausted:
            kind = NotificationType.MAX_RETRY_REACHED
        self._notify(task, kind, Severity.ERROR, failure.message, stage, failure.type)

    def _notify(
        self,
        task: Task,
        kind: NotificationType,
        severity: Severity,
        message: str,
        stage: str | None = None,
        failure_type: FailureType | None = None,
    ) -> None:
        notice = Notification(
            type=kind,
            severity=severity,
            task_id=task.id,
            plan_id=task.plan_id,
            tenant_id=task.tenant_id,
            stage=stage,
            failure_type=failure_type,
            message=message,
            occurred_at=self.clock.now(),
        )
        try:
            self.notifier.notify(notice)
        except Exception:  # a notifier must never break the worker
            log.exception("task %s: could not send the %s notification", task.id, kind)

    def _undo_stage(self, task: Task, claim: Claim) -> Task | None:
        outcome = task.completed[-1]
        stage = task.stages[outcome.index]
        self.claims.report(claim, Progress(stage.name, len(task.completed), task.total_stages))
        failure = self.stages.undo(stage, outcome.result, self._context(task, claim))

        def finish(fresh: Task, claim: Claim) -> None:
            if failure is None:
                fresh.roll_back_stage(outcome.index, claim.fence)
            else:
                fresh.fail_rollback(outcome.index, failure, claim.fence)

        return self._save(task, claim, finish)

    def _save(
        self, task: Task, claim: Claim, command: Callable[[Task, Claim], None]
    ) -> Task | None:
        """Apply the command and save it, fenced; None once the task is no longer ours."""
        for _ in range(SAVE_ATTEMPTS):
            try:
                command(task, claim)
                self.app.save_fenced(task, claim)
                return task
            except (InvalidTransition, StaleFence) as refused:
                log.info("task %s: letting go (%s)", claim.task_id, refused.code)
                return None
            except RecordConflictError:
                task = self.app.get_task(claim.task_id)
        log.warning("task %s: gave up after %d conflicting saves", claim.task_id, SAVE_ATTEMPTS)
        return None

    @staticmethod
    def _context(task: Task, claim: Claim) -> StepContext:
        return StepContext(
            task_id=task.id,
            plan_id=task.plan_id,
            tenant_id=task.tenant_id,
            target_version=task.target_version,
            fence=claim.fence,
        )


def _running_stage(task: Task) -> str | None:
    """The name of the stage the task's last worker had started and not ended, if any."""
    return None if task.current_stage is None else task.stages[task.current_stage].name
