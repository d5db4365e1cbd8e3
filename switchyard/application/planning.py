"""A validated plan request turned into events, a bounded chunk of tenants at a time.

One Plan, one queued Task per tenant in FIFO order, each tenant's task list
with the new task appended and, when the request says `supersede`, the
tenants' older tasks that wait and never started, cancelled for the new ones.

The plan comes first, alone (its task ids are drawn up front); then each chunk
of tenants gives its new tasks' and new task lists' first events (their records,
see `new_tasks`), the new tasks' queue rows, and the aggregates that
existed before and change (known tenants' task lists, superseded tasks). A
caller writes the chunks one after another in one transaction, so a plan of
any size is recorded all or nothing while only a chunk or two is held at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from switchyard.application.new_tasks import (
    EventRecord,
    first_assignment_events,
    queued_task_events,
)
from switchyard.application.scheduling import TaskRow
from switchyard.application.tenant_order import WAITING, LoadTask, live_tasks
from switchyard.domain.plan import Plan
from switchyard.domain.request import PlanRequest, TenantConfig
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.status import TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks

FindTenantTasks = Callable[[Sequence[str]], Mapping[str, TenantTasks]]
"""Loads the task lists of the given tenants; a tenant that never had a task is left out."""

CHUNK_TENANTS = 2_000
"""Tenants per chunk: enough to keep round trips few, small enough to keep memory flat."""


@dataclass(frozen=True)
class PlanChunk:
    """What one chunk of a plan records.

    `events`: the first events of its new tasks, then of its new task lists;
    `new_tasks`: those tasks' queue rows; `saved`: aggregates saved as any
    command saves them, their events pending (the plan, known tenants' task
    lists, the tasks it supersedes).
    """

    events: Sequence[EventRecord] = ()
    new_tasks: Sequence[TaskRow] = ()
    saved: Sequence[Aggregate] = ()


def plan_chunks(
    plan_id: UUID,
    request: PlanRequest,
    actor: str,
    idempotency_key: str | None,
    stage_factory: StageFactory,
    find_tenant_tasks: FindTenantTasks,
    load_task: LoadTask,
    chunk_tenants: int = CHUNK_TENANTS,
) -> tuple[Plan, Iterator[PlanChunk]]:
    """The new plan, and what to record: the plan alone, then a chunk of tenants at a time
    (built as they are read); nothing is saved."""
    task_ids = [uuid4() for _ in request.tenants]
    plan = Plan(
        id=plan_id,
        name=request.name,
        max_concurrency=request.max_concurrency,
        task_ids=task_ids,
        tenant_ids=[t.tenant_id for t in request.tenants],
        actor=actor,
        idempotency_key=idempotency_key,
        fingerprint=request.fingerprint,
    )
    build = _ChunkBuilder(plan, request, actor, stage_factory, find_tenant_tasks, load_task)
    return plan, build.chunks(chunk_tenants)


@dataclass(frozen=True)
class _ChunkBuilder:
    plan: Plan
    request: PlanRequest
    actor: str
    stage_factory: StageFactory
    find_tenant_tasks: FindTenantTasks
    load_task: LoadTask

    def chunks(self, chunk_tenants: int) -> Iterator[PlanChunk]:
        yield PlanChunk(saved=[self.plan])
        numbered = enumerate(zip(self.request.tenants, self.plan.task_ids, strict=True))
        while chunk := list(islice(numbered, chunk_tenants)):
            yield self._chunk(chunk)

    def _chunk(self, chunk: list[tuple[int, tuple[TenantConfig, UUID]]]) -> PlanChunk:
        known = self.find_tenant_tasks([tenant.tenant_id for _, (tenant, _) in chunk])
        timestamp = Task.Created.create_timestamp()
        tasks: list[EventRecord] = []
        rows: list[TaskRow] = []
        lists: list[EventRecord] = []
        saved: list[Aggregate] = []
        superseded: list[Aggregate] = []
        for position, (tenant, task_id) in chunk:
            events, row = self._new_task(position, tenant, task_id, timestamp)
            tasks += events
            rows.append(row)
            tenant_tasks = known.get(tenant.tenant_id)
            if tenant_tasks is None:
                lists += first_assignment_events(tenant.tenant_id, task_id, self.plan.id, timestamp)
                continue
            if self.request.supersede:
                superseded += supersede_waiting(
                    tenant_tasks.task_ids, self.plan.id, task_id, self.actor, self.load_task
                )
            tenant_tasks.assign(task_id, self.plan.id)
            saved.append(tenant_tasks)
        return PlanChunk(events=tasks + lists, new_tasks=rows, saved=saved + superseded)

    def _new_task(
        self, position: int, tenant: TenantConfig, task_id: UUID, timestamp: datetime
    ) -> tuple[tuple[EventRecord, EventRecord], TaskRow]:
        """A new queued task's events and its queue row."""
        plan_id = self.plan.id
        stages = self.stage_factory.build(tenant, plan_id, task_id)
        created, queued = queued_task_events(
            task_id,
            plan_id,
            tenant.tenant_id,
            position,
            tenant.service_type,
            tenant.target_version,
            stages,
            self.actor,
            timestamp,
        )
        return (created, queued), TaskRow(
            task_id=task_id,
            plan_id=plan_id,
            tenant_id=tenant.tenant_id,
            position=position,
            status=TaskStatus.QUEUED,
            version=queued.originator_version,
            total_stages=len(stages),
        )


def supersede_waiting(
    task_ids: tuple[UUID, ...], plan_id: UUID, task_id: UUID, actor: str, load_task: LoadTask
) -> list[Task]:
    """Cancel the tenant's older tasks that wait and never started, for the plan's new task."""
    waiting = [
        t for t in live_tasks(task_ids, load_task) if t.status in WAITING and not t.ever_started
    ]
    for task in waiting:
        task.supersede(plan_id, task_id, actor)
    return waiting
