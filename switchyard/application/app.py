"""The command application: create plans and steer tasks, by task, tenant or plan.

Every command loads what it touches, lets the aggregates decide, and saves
them all in one `save()`: all of it or none of it. A command run inside
`tracing.trace_context(traceparent)` stores the traceparent with each of its
events. On an optimistic-concurrency
conflict (someone else saved first) the whole command runs again from fresh
state, a bounded number of times, then gives up with `ConcurrentUpdate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Mapper, RecordConflictError, Recording

from switchyard.application.guards import GuardedStore, WriteGuards
from switchyard.application.plan_recording import (
    PlanStore,
    collector_paused,
    record_chunks,
    tenant_tasks_of,
)
from switchyard.application.planning import plan_chunks
from switchyard.application.ports import Claim
from switchyard.application.scheduling import scheduling_rows
from switchyard.application.tenant_order import (
    WAITING,
    blocking_task,
    current_task,
    superseding_task,
)
from switchyard.application.topics import register_moved_topics
from switchyard.application.tracing import TracingMapper
from switchyard.application.transcodings import register_event_transcodings
from switchyard.application.views import (
    HistoryEntry,
    PlanView,
    TaskRef,
    TaskView,
    history_entry,
    plan_view,
    task_ref,
    task_view,
)
from switchyard.domain.errors import (
    ConcurrentUpdate,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    PlanCommandRefused,
    PlanNotFound,
    TaskNotFound,
    TaskSuperseded,
    TenantNotFound,
)
from switchyard.domain.outbound import OutboundPolicy
from switchyard.domain.plan import Plan
from switchyard.domain.request import PlanRequest
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks, tenant_tasks_id
from switchyard.domain.validation import validate_plan_request

T = TypeVar("T")
A = TypeVar("A", Plan, Task)

DEFAULT_CONFLICT_RETRIES = 5
"""How many times a command runs again after losing an optimistic-concurrency race."""


@dataclass(frozen=True)
class PlanCreated:
    """The answer to create_plan: the plan's and tasks' ids and the last event's sequence."""

    plan_id: UUID
    task_ids: tuple[UUID, ...]
    sequence: int
    created: bool


@dataclass(frozen=True)
class Recorded:
    """The answer to a steering command: the last event's sequence and the tasks it changed."""

    sequence: int
    task_ids: tuple[UUID, ...]


class Switchyard(Application[UUID]):
    """switchyard's event-sourced application: plans, tasks and tenants' task lists."""

    name = "switchyard"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        stage_factory: StageFactory,
        conflict_retries: int = DEFAULT_CONFLICT_RETRIES,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.stage_factory = stage_factory
        self.outbound = outbound or OutboundPolicy()
        self.conflict_retries = conflict_retries
        register_moved_topics()
        super().__init__(env)

    def save(
        self, *objs: Any, guards: WriteGuards | None = None, **unknown: Any
    ) -> list[Recording[UUID]]:
        """Save the aggregates' events and scheduling rows in one transaction, under the guards.

        A fenced save on a store that cannot check fences (the in-memory one, which
        has no leases) is refused loudly. Such a store has no claims either, so a
        task can never be superseded by a claim there: the application's own check
        of `not_superseded` is the whole of it.
        """
        if unknown:
            raise TypeError(f"unknown save options: {sorted(unknown)}")
        fenced = guards is not None and guards.fence is not None
        if fenced and not isinstance(self.recorder, GuardedStore):
            raise TypeError("this event store cannot check a worker's fence")
        return super().save(*objs, scheduling=scheduling_rows(objs), guards=guards)

    def save_fenced(self, task: Task, claim: Claim) -> list[Recording[UUID]]:
        """Save a worker's changes to a task, allowed only while its claim holds the lease."""
        return self.save(task, guards=WriteGuards(fence=claim))

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper that also stores the command's traceparent (see `tracing`)."""
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=TracingMapper
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """Register the library's transcodings and one per switchyard value type."""
        register_event_transcodings(transcoder)

    # -- create ------------------------------------------------------------

    def create_plan(
        self, request: Mapping[str, Any], actor: str, idempotency_key: str | None = None
    ) -> PlanCreated:
        """Validate a plan request and record the plan, its tasks, queued, in one save."""
        with collector_paused():
            return self._create_plan(request, actor, idempotency_key)

    def _create_plan(
        self, request: Mapping[str, Any], actor: str, idempotency_key: str | None
    ) -> PlanCreated:
        valid = validate_plan_request(request, self.stage_factory.service_types(), self.outbound)
        plan_id = (
            uuid5(NAMESPACE_URL, f"switchyard:plan:{idempotency_key}")
            if idempotency_key
            else uuid4()
        )

        def attempt() -> PlanCreated:
            existing = self._existing_plan(plan_id, valid) if idempotency_key else None
            return existing or self._record_plan(plan_id, valid, actor, idempotency_key)

        return self._retrying(attempt, plan_id=str(plan_id))

    def _existing_plan(self, plan_id: UUID, request: PlanRequest) -> PlanCreated | None:
        try:
            plan: Plan = self.repository.get(plan_id)
        except AggregateNotFoundError:
            return None
        if plan.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(plan_id=str(plan_id), idempotency_key=plan.idempotency_key)
        return PlanCreated(plan.id, plan.task_ids, self.recorder.max_notification_id() or 0, False)

    def _record_plan(
        self, plan_id: UUID, request: PlanRequest, actor: str, idempotency_key: str | None
    ) -> PlanCreated:
        plan, chunks = plan_chunks(
            plan_id,
            request,
            actor,
            idempotency_key,
            self.stage_factory,
            self._tenant_tasks_of,
            self.get_task,
        )
        if isinstance(self.recorder, PlanStore):
            sequence = record_chunks(chunks, self.recorder, self.mapper)
        else:
            everything = [x for c in chunks for x in (*(r.event() for r in c.events), *c.saved)]
            sequence = self.save(*everything)[-1].notification.id
        return PlanCreated(plan.id, plan.task_ids, sequence, True)

    def _tenant_tasks_of(self, tenant_ids: Sequence[str]) -> dict[str, TenantTasks]:
        if isinstance(self.recorder, PlanStore):
            return tenant_tasks_of(tenant_ids, self.recorder, self.mapper)
        found = {tenant_id: self._tenant_tasks(tenant_id) for tenant_id in tenant_ids}
        return {tenant_id: tasks for tenant_id, tasks in found.items() if tasks is not None}

    # -- steer one task ----------------------------------------------------

    def pause_task(self, task_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Pause a task at its next stage boundary."""
        return self._on_task(task_id, lambda t: t.pause(actor, reason))

    def resume_task(self, task_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Put a paused task back in the queue."""
        return self._on_task(task_id, lambda t: t.resume(actor, reason))

    def cancel_task(self, task_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Cancel a task at its next stage boundary."""
        return self._on_task(task_id, lambda t: t.cancel(actor, reason))

    def retry_task(
        self, task_id: UUID, actor: str, from_checkpoint: bool = True, reason: str | None = None
    ) -> Recorded:
        """Run a failed, cancelled or rolled-back task again, unless a newer one has started."""

        def retry(task: Task) -> None:
            task.retry(actor, from_checkpoint, reason)
            self._refuse_superseded(task)

        return self._on_task(task_id, retry, guard_supersession=True)

    def rollback_task(self, task_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Undo a task's completed stages, newest first, unless a newer one has started."""

        def rollback(task: Task) -> None:
            task.rollback(actor, reason)
            self._refuse_superseded(task)

        return self._on_task(task_id, rollback, guard_supersession=True)

    # -- steer a tenant's current task -------------------------------------

    def pause_tenant(self, tenant_id: str, actor: str, reason: str | None = None) -> Recorded:
        """Pause the tenant's current task (see `current_task_id`)."""
        return self.pause_task(self.current_task_id(tenant_id), actor, reason)

    def resume_tenant(self, tenant_id: str, actor: str, reason: str | None = None) -> Recorded:
        """Resume the tenant's current task (see `current_task_id`)."""
        return self.resume_task(self.current_task_id(tenant_id), actor, reason)

    def cancel_tenant(self, tenant_id: str, actor: str, reason: str | None = None) -> Recorded:
        """Cancel the tenant's current task (see `current_task_id`)."""
        return self.cancel_task(self.current_task_id(tenant_id), actor, reason)

    def retry_tenant(
        self, tenant_id: str, actor: str, from_checkpoint: bool = True, reason: str | None = None
    ) -> Recorded:
        """Retry the tenant's current task (see `current_task_id`)."""
        return self.retry_task(self.current_task_id(tenant_id), actor, from_checkpoint, reason)

    def rollback_tenant(self, tenant_id: str, actor: str, reason: str | None = None) -> Recorded:
        """Roll back the tenant's current task (see `current_task_id`)."""
        return self.rollback_task(self.current_task_id(tenant_id), actor, reason)

    # -- steer a whole plan ------------------------------------------------

    def pause_plan(self, plan_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Pause every task of the plan that can be paused."""
        return self._on_plan(
            plan_id, lambda p: p.request_pause(actor, reason), lambda t: t.pause(actor, reason)
        )

    def resume_plan(self, plan_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Resume every paused task of the plan."""
        return self._on_plan(
            plan_id, lambda p: p.request_resume(actor, reason), lambda t: t.resume(actor, reason)
        )

    def cancel_plan(self, plan_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Cancel every unfinished task of the plan."""
        return self._on_plan(
            plan_id, lambda p: p.request_cancel(actor, reason), lambda t: t.cancel(actor, reason)
        )

    def retry_plan(
        self, plan_id: UUID, actor: str, from_checkpoint: bool = True, reason: str | None = None
    ) -> Recorded:
        """Retry every failed or cancelled task that is not superseded (see `retry_task`).

        A task with no checkpoint starts from scratch.
        """

        def retry(task: Task) -> None:
            task.retry(actor, from_checkpoint and task.has_checkpoint, reason)

        return self._on_plan(
            plan_id,
            lambda p: p.request_retry(actor, from_checkpoint, reason),
            retry,
            guard_supersession=True,
        )

    def rollback_plan(self, plan_id: UUID, actor: str, reason: str | None = None) -> Recorded:
        """Roll back every task of the plan that can be rolled back and is not superseded."""
        return self._on_plan(
            plan_id,
            lambda p: p.request_rollback(actor, reason),
            lambda t: t.rollback(actor, reason),
            guard_supersession=True,
        )

    # -- queries -----------------------------------------------------------

    def describe_task(self, task_id: UUID) -> TaskView:
        """The task's status and progress, and the older task it waits for, if any."""
        task = self.get_task(task_id)
        return task_view(task, waiting_for=self._waiting_for(task))

    def _waiting_for(self, task: Task) -> TaskRef | None:
        """The older unfinished task of the same tenant that this waiting task waits for."""
        if task.status not in WAITING:
            return None  # only a waiting task waits: no need to read the tenant's list
        tenant_tasks = self._tenant_tasks(task.tenant_id)
        if tenant_tasks is None:
            return None
        blocker = blocking_task(task, tenant_tasks.task_ids, self.get_task)
        return None if blocker is None else task_ref(blocker)

    def describe_tenant(self, tenant_id: str) -> TaskView:
        """The status and progress of the tenant's current task (see `current_task_id`)."""
        return self.describe_task(self.current_task_id(tenant_id))

    def describe_plan(self, plan_id: UUID) -> PlanView:
        """The plan's derived status and its tasks in FIFO order."""
        plan = self.get_plan(plan_id)
        return plan_view(plan, [self.get_task(task_id) for task_id in plan.task_ids])

    def task_history(self, task_id: UUID) -> list[HistoryEntry]:
        """Every event of the task, oldest first: who asked what, and what followed."""
        events = list(self.events.get(task_id))
        if not events or not isinstance(events[0], Task.Created):
            raise TaskNotFound(task_id=str(task_id))
        return [history_entry(e) for e in events]

    def current_task_id(self, tenant_id: str) -> UUID:
        """The id of the task a tenant-addressed command or query acts on.

        The tenant's running (or rolling back) task, else its oldest paused one,
        else its oldest waiting one, else its newest task (see `tenant_order`).
        """
        tenant_tasks = self._tenant_tasks(tenant_id)
        if tenant_tasks is None or not tenant_tasks.task_ids:
            raise TenantNotFound(tenant_id=tenant_id)
        return current_task(tenant_tasks.task_ids, self.get_task).id

    def get_task(self, task_id: UUID) -> Task:
        """Load a task by replaying its events."""
        return self._get(task_id, Task, TaskNotFound(task_id=str(task_id)))

    def get_plan(self, plan_id: UUID) -> Plan:
        """Load a plan by replaying its events."""
        return self._get(plan_id, Plan, PlanNotFound(plan_id=str(plan_id)))

    # -- plumbing ----------------------------------------------------------

    def _get(self, aggregate_id: UUID, kind: type[A], missing: NotFound) -> A:
        """The aggregate of that kind with that id, else raise `missing`."""
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(found, kind):
            raise missing
        return found

    def _tenant_tasks(self, tenant_id: str) -> TenantTasks | None:
        try:
            tenant_tasks: TenantTasks = self.repository.get(tenant_tasks_id(tenant_id))
        except AggregateNotFoundError:
            return None
        return tenant_tasks

    def _refuse_superseded(self, task: Task) -> None:
        tenant_tasks = self._tenant_tasks(task.tenant_id)
        newer = superseding_task(task, tenant_tasks.task_ids if tenant_tasks else (), self.get_task)
        if newer is not None:
            raise TaskSuperseded(
                task_id=str(task.id), newer_task_id=str(newer.id), newer_plan_id=str(newer.plan_id)
            )

    def _on_task(
        self, task_id: UUID, command: Callable[[Task], None], guard_supersession: bool = False
    ) -> Recorded:
        def attempt() -> Recorded:
            task = self.get_task(task_id)
            command(task)
            guards = WriteGuards(not_superseded=(task.id,)) if guard_supersession else None
            return Recorded(self.save(task, guards=guards)[-1].notification.id, (task.id,))

        return self._retrying(attempt, aggregate_id=str(task_id))

    def _on_plan(
        self,
        plan_id: UUID,
        plan_command: Callable[[Plan], None],
        command: Callable[[Task], None],
        guard_supersession: bool = False,
    ) -> Recorded:
        def attempt() -> Recorded:
            plan = self.get_plan(plan_id)
            changed = []
            for task_id in plan.task_ids:
                task = self.get_task(task_id)
                try:
                    command(task)
                    if guard_supersession:
                        self._refuse_superseded(task)
                except (InvalidTransition, TaskSuperseded):
                    continue
                changed.append(task)
            if not changed:
                raise PlanCommandRefused(plan_id=str(plan_id))
            plan_command(plan)
            restarted = tuple(t.id for t in changed)
            guards = WriteGuards(not_superseded=restarted) if guard_supersession else None
            recordings = self.save(plan, *changed, guards=guards)
            return Recorded(recordings[-1].notification.id, tuple(t.id for t in changed))

        return self._retrying(attempt, aggregate_id=str(plan_id))

    def _retrying(self, attempt: Callable[[], T], **details: str) -> T:
        for _ in range(self.conflict_retries + 1):
            try:
                return attempt()
            except RecordConflictError:
                continue
        raise ConcurrentUpdate(**details)
