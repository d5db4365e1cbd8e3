"""A validated plan request turned into aggregates, ready to be saved in one transaction.

One Plan, one queued Task per tenant in FIFO order, each tenant's task list
with the new task appended and, when the request says `supersede`, the
tenants' older tasks that wait and never started, cancelled for the new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from switchyard.application.tenant_order import WAITING, LoadTask, live_tasks
from switchyard.domain.plan import Plan
from switchyard.domain.request import PlanRequest
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks

FindTenantTasks = Callable[[str], TenantTasks | None]
"""Loads a tenant's task list, or None for a tenant that never had a task."""


@dataclass(frozen=True)
class NewPlan:
    """The aggregates a new plan records: the plan, its tasks, tenants and superseded tasks."""

    plan: Plan
    tasks: tuple[Task, ...]
    tenants: tuple[TenantTasks, ...]
    superseded: tuple[Task, ...]

    def aggregates(self) -> list[Aggregate]:
        """Every aggregate to save, the plan first."""
        return [self.plan, *self.tasks, *self.tenants, *self.superseded]


def new_plan(
    plan_id: UUID,
    request: PlanRequest,
    actor: str,
    idempotency_key: str | None,
    stage_factory: StageFactory,
    find_tenant_tasks: FindTenantTasks,
    load_task: LoadTask,
) -> NewPlan:
    """Build the plan's aggregates; nothing is saved."""
    tasks: list[Task] = []
    tenants: list[TenantTasks] = []
    superseded: list[Task] = []
    for position, tenant in enumerate(request.tenants):
        task_id = uuid4()
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
        tasks.append(task)
        tenant_tasks = find_tenant_tasks(tenant.tenant_id) or TenantTasks(tenant.tenant_id)
        if request.supersede:
            superseded += supersede_waiting(tenant_tasks.task_ids, task, actor, load_task)
        tenant_tasks.assign(task_id, plan_id)
        tenants.append(tenant_tasks)
    plan = Plan(
        id=plan_id,
        name=request.name,
        max_concurrency=request.max_concurrency,
        task_ids=[t.id for t in tasks],
        tenant_ids=[t.tenant_id for t in tasks],
        actor=actor,
        idempotency_key=idempotency_key,
        fingerprint=request.fingerprint,
    )
    return NewPlan(plan, tuple(tasks), tuple(tenants), tuple(superseded))


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
