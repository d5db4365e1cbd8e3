"""A plan built a chunk of tenants at a time: the plan first, then its tasks' events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import project_aggregate

from switchyard.application.app import Switchyard
from switchyard.application.planning import FindTenantTasks, PlanChunk, plan_chunks
from switchyard.domain.plan import Plan
from switchyard.domain.status import TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks
from switchyard.domain.validation import validate_plan_request
from tests.support.builders import plan_request

TENANTS = [f"t{i}" for i in range(5)]


def chunks_of(
    app: Switchyard, find: FindTenantTasks | None = None, chunk_tenants: int = 2
) -> tuple[Plan, list[PlanChunk]]:
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


def replayed(chunks: list[PlanChunk]) -> list[Any]:
    """The aggregates the chunks' events make, in the order each first appears."""
    histories: dict[UUID, list[Any]] = {}
    for event in (r.event() for chunk in chunks for r in chunk.events):
        histories.setdefault(event.originator_id, []).append(event)
    return [project_aggregate(None, history) for history in histories.values()]


def test_the_plan_comes_alone_then_a_chunk_of_tenants_at_a_time(memory_app: Switchyard) -> None:
    plan, chunks = chunks_of(memory_app)
    assert chunks[0] == PlanChunk(saved=[plan])
    assert [len(chunk.events) for chunk in chunks[1:]] == [8, 8, 4], "each tenant: four events"
    assert [len(chunk.new_tasks) for chunk in chunks[1:]] == [2, 2, 1]
    tasks = [a for a in replayed(chunks) if isinstance(a, Task)]
    assert [t.id for t in tasks] == list(plan.task_ids)
    assert [(t.tenant_id, t.position, t.status, t.version) for t in tasks] == [
        (tenant, position, TaskStatus.QUEUED, 2) for position, tenant in enumerate(TENANTS)
    ]
    rows = [row for chunk in chunks for row in chunk.new_tasks]
    assert [(r.task_id, r.tenant_id, r.position, r.status, r.version) for r in rows] == [
        (t.id, t.tenant_id, t.position, t.status, t.version) for t in tasks
    ]


def test_a_tenant_with_a_task_list_gets_the_new_task_appended(memory_app: Switchyard) -> None:
    known = TenantTasks("t3")
    older = uuid4()
    known.assign(older, uuid4())
    known.collect_events()

    def find(tenant_ids: Sequence[str]) -> Mapping[str, TenantTasks]:
        return {"t3": known} if "t3" in tenant_ids else {}

    plan, chunks = chunks_of(memory_app, find)
    saved = [a for chunk in chunks for a in chunk.saved]
    assert saved == [plan, known], "a known list is saved as a command saves it"
    assert known.task_ids == (older, plan.task_ids[3])
    lists = {a.tenant_id: a for a in replayed(chunks) if isinstance(a, TenantTasks)}
    assert "t3" not in lists, "a known list gets no second Registered"
    assert lists["t0"].task_ids == (plan.task_ids[0],)
