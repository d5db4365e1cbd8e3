"""A validated plan request turned into aggregates, a bounded chunk of tenants at a time.

One Plan, one queued Task per tenant in FIFO order, each tenant's task list
with the new task appended and, when the request says `supersede`, the
tenants' older tasks that wait and never started, cancelled for the new ones.

The plan comes first, alone (its task ids are drawn up front); then each chunk
of tenants gives its tasks, their tenants' task lists and the tasks they
supersede. A caller writes the chunks one after another in one transaction, so
a plan of any size is recorded all or nothing while only one chunk of
aggregates is held at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, islice
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from switchyard.application.tenant_order import WAITING, LoadTask, live_tasks
from switchyard.domain.plan import Plan
from switchyard.domain.request import PlanRequest, TenantConfig
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks

FindTenantTasks = Callable[[Sequence[str]], Mapping[str, TenantTasks]]
"""Loads the task lists of the given tenants; a tenant that never had a task is left out."""

CHUNK_TENANTS = 2_000
"""Tenants per chunk: enough to keep round trips few, small enough to keep memory flat."""


def plan_chunks(
    plan_id: UUID,
    request: PlanRequest,
    actor: str,
    idempotency_key: str | None,
    stage_factory: StageFactory,
    find_tenant_tasks: FindTenantTasks,
    load_task: LoadTask,
    chunk_tenants: int = CHUNK_TENANTS,
) -> tuple[Plan, Iterator[list[Aggregate]]]:
    """The new plan, and its aggregates to save: the plan alone, then a chunk of tenants at a
    time (built as they are read); nothing is saved."""
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
    tenant_chunks = _tenant_chunks(
        plan, request, actor, stage_factory, find_tenant_tasks, load_task, chunk_tenants
    )
    return plan, chain([[plan]], tenant_chunks)


def _tenant_chunks(
    plan: Plan,
    request: PlanRequest,
    actor: str,
    stage_factory: StageFactory,
    find_tenant_tasks: FindTenantTasks,
    load_task: LoadTask,
    chunk_tenants: int,
) -> Iterator[list[Aggregate]]:
    plan_id = plan.id
    numbered = iter(enumerate(zip(request.tenants, plan.task_ids, strict=True)))
    while chunk := list(islice(numbered, chunk_tenants)):
        known = find_tenant_tasks([tenant.tenant_id for _, (tenant, _) in chunk])
        tasks: list[Aggregate] = []
        tenants: list[Aggregate] = []
        superseded: list[Aggregate] = []
        for position, (tenant, task_id) in chunk:
            task = _queued_task(plan_id, task_id, position, tenant, actor, stage_factory)
            tenant_tasks = known.get(tenant.tenant_id) or TenantTasks(tenant.tenant_id)
            if request.supersede:
                superseded += supersede_waiting(tenant_tasks.task_ids, task, actor, load_task)
            tenant_tasks.assign(task_id, plan_id)
            tasks.append(task)
            tenants.append(tenant_tasks)
        yield [*tasks, *tenants, *superseded]


def _queued_task(
    plan_id: UUID,
    task_id: UUID,
    position: int,
    tenant: TenantConfig,
    actor: str,
    stage_factory: StageFactory,
) -> Task:
    task = Task(
        id=task_id,
        plan_id=plan_id,
        tenant_id=tenant.tenant_id,
        position=position,
        service_type=tenant.service_type,
        target_version=tenant.target_version,
        stages=stage_factory.build(tenant, plan_id, task_id),
        actor=actor,
    )
    task.queue(actor)
    return task


def supersede_waiting(
    task_ids: tuple[UUID, ...], newer: Task, actor: str, load_task: LoadTask
) -> list[Task]:
    """Cancel the tenant's older tasks that wait and never started, for the newer task."""
    waiting = [
        t for t in live_tasks(task_ids, load_task) if t.status in WAITING and not t.ever_started
    ]
    for task in waiting:
        task.supersede(newer.plan_id, newer.id, actor)
    return waiting
