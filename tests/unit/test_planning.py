"""A plan's aggregates built a chunk of tenants at a time: the plan first, then its tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import uuid4

from eventsourcing.domain import Aggregate

from switchyard.application.app import Switchyard
from switchyard.application.planning import FindTenantTasks, plan_chunks
from switchyard.domain.plan import Plan
from switchyard.domain.status import TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks
from switchyard.domain.validation import validate_plan_request
from tests.support.builders import plan_request

TENANTS = [f"t{i}" for i in range(5)]


def chunks_of(
    app: Switchyard, find: FindTenantTasks | None = None, chunk_tenants: int = 2
) -> tuple[Plan, list[list[Aggregate]]]:
    """The plan of TENANTS and its chunks, built with chunks of `chunk_tenants` tenants."""
    valid = validate_plan_request(
        plan_request(*TENANTS), app.stage_factory.service_types(), app.outbound
    )

    def no_tenant_tasks(_: Sequence[str]) -> Mapping[str, TenantTasks]:
        return {}

    plan, chunks = plan_chunks(
        uuid4(),
        valid,
        "ci",
        None,
        app.stage_factory,
        find or no_tenant_tasks,
        app.get_task,
        chunk_tenants=chunk_tenants,
    )
    return plan, list(chunks)


def test_the_plan_comes_alone_then_a_chunk_of_tenants_at_a_time(memory_app: Switchyard) -> None:
    plan, chunks = chunks_of(memory_app)
    assert chunks[0] == [plan]
    assert [len(chunk) for chunk in chunks[1:]] == [4, 4, 2], "each tenant: a task and its list"
    tasks = [a for chunk in chunks for a in chunk if isinstance(a, Task)]
    assert [t.id for t in tasks] == list(plan.task_ids)
    assert [(t.tenant_id, t.position, t.status) for t in tasks] == [
        (tenant, position, TaskStatus.QUEUED) for position, tenant in enumerate(TENANTS)
    ]


def test_a_tenant_with_a_task_list_gets_the_new_task_appended(memory_app: Switchyard) -> None:
    known = TenantTasks("t3")
    older = uuid4()
    known.assign(older, uuid4())

    def find(tenant_ids: Sequence[str]) -> Mapping[str, TenantTasks]:
        return {"t3": known} if "t3" in tenant_ids else {}

    plan, chunks = chunks_of(memory_app, find)
    lists = {a.tenant_id: a for chunk in chunks for a in chunk if isinstance(a, TenantTasks)}
    assert lists["t3"] is known
    assert known.task_ids == (older, plan.task_ids[3])
    assert lists["t0"].task_ids == (plan.task_ids[0],)
