"""A new task's and a new task list's first events, made directly, are the commands' events."""

from __future__ import annotations

from uuid import uuid4

from eventsourcing.application import project_aggregate

from switchyard.application.new_tasks import first_assignment_events, queued_task_events
from switchyard.domain.tenant import TenantTasks
from tests.support.builders import STAGE_NAMES, new_task, noop_stages


def test_a_queued_task_is_the_one_created_then_queued() -> None:
    task = new_task(position=7)
    task.queue("ops")
    commanded = task.collect_events()
    made = queued_task_events(
        task.id,
        task.plan_id,
        "acme",
        7,
        "blue-green-gateway",
        "2.4.1",
        noop_stages(*STAGE_NAMES),
        "ops",
        commanded[0].timestamp,
    )
    assert [type(e) for e in made] == [type(e) for e in commanded]
    assert [vars(e) for e in made] == [
        {**vars(e), "timestamp": commanded[0].timestamp} for e in commanded
    ]
    assert project_aggregate(None, made).__dict__ == {
        **task.__dict__,
        "_modified_on": commanded[0].timestamp,
    }


def test_a_new_task_list_is_the_one_registered_then_assigned() -> None:
    task_id, plan_id = uuid4(), uuid4()
    tenant_tasks = TenantTasks("acme")
    tenant_tasks.assign(task_id, plan_id)
    commanded = tenant_tasks.collect_events()
    made = first_assignment_events("acme", task_id, plan_id, commanded[0].timestamp)
    assert [type(e) for e in made] == [type(e) for e in commanded]
    assert [vars(e) for e in made] == [
        {**vars(e), "timestamp": commanded[0].timestamp} for e in commanded
    ]
    replayed = project_aggregate(None, made)
    assert isinstance(replayed, TenantTasks)
    assert (replayed.id, replayed.version, replayed.task_ids) == (
        tenant_tasks.id,
        tenant_tasks.version,
        (task_id,),
    )
