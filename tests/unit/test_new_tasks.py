"""A new task's and a new task list's first events, written as records, are the commands'
events: the same objects, stored as the same bytes, replayed to the same aggregates."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from eventsourcing.application import project_aggregate

from switchyard.application.app import Switchyard
from switchyard.application.chunk_encoding import ChunkEncoder
from switchyard.application.new_tasks import (
    EventRecord,
    first_assignment_events,
    queued_task_events,
)
from switchyard.application.tracing import trace_context
from switchyard.domain.tenant import TenantTasks
from tests.support.builders import STAGE_NAMES, new_task, noop_stages

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def assert_recorded_alike(
    app: Switchyard, records: tuple[EventRecord, ...], commanded: list[Any]
) -> None:
    """The records make the commanded events (stamped at the records' time) and store alike."""
    stamped = [
        type(e)(**{**vars(e), "timestamp": records[0].state["timestamp"]}) for e in commanded
    ]
    assert [r.event() for r in records] == stamped
    for traceparent in (None, TRACEPARENT):
        with trace_context(traceparent):
            encoder = ChunkEncoder(app.mapper)
            assert [encoder.stored_record(r) for r in records] == [
                app.mapper.to_stored_event(e) for e in stamped
            ]


def test_a_queued_task_is_the_one_created_then_queued(memory_app: Switchyard) -> None:
    task = new_task(position=7)
    task.queue("ops")
    commanded = list(task.collect_events())
    records = queued_task_events(
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
    assert_recorded_alike(memory_app, records, commanded)
    replayed = project_aggregate(None, [r.event() for r in records])
    assert replayed.__dict__ == {**task.__dict__, "_modified_on": commanded[0].timestamp}


def test_a_new_task_list_is_the_one_registered_then_assigned(memory_app: Switchyard) -> None:
    task_id, plan_id = uuid4(), uuid4()
    tenant_tasks = TenantTasks("acme")
    tenant_tasks.assign(task_id, plan_id)
    commanded = list(tenant_tasks.collect_events())
    records = first_assignment_events("acme", task_id, plan_id, commanded[0].timestamp)
    assert_recorded_alike(memory_app, records, commanded)
    replayed = project_aggregate(None, [r.event() for r in records])
    assert isinstance(replayed, TenantTasks)
    assert (replayed.id, replayed.version, replayed.task_ids) == (
        tenant_tasks.id,
        tenant_tasks.version,
        (task_id,),
    )
