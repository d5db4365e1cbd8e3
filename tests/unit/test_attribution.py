"""Every message names its aggregate's tenant and plan, however the log is read in batches.

Unattributed: a message of a Task without its tenant and plan, of a TenantTasks
without its tenant, of a Plan without its plan, or naming another aggregate's.
"""

from __future__ import annotations

import json

from cloudevents.v1.kafka import KafkaMessage, from_binary

from switchyard.adapters.kafka.format import KafkaRecord
from switchyard.adapters.relay.attribution import Attribution, first_events
from switchyard.application.app import Switchyard
from tests.support.builders import plan_request, run_stages
from tests.support.kafka import CountingFirstEvents, headers, read_in_batches, unattributed


def two_plans(app: Switchyard) -> int:
    """Two plans sharing a tenant, tasks run, paused and resumed (their events interleaved);
    the last id of the plans' creation."""
    first = app.create_plan(plan_request("acme", "globex"), "alice")
    second = app.create_plan(plan_request("acme", "initech"), "alice")
    created = app.recorder.max_notification_id() or 0
    for task_id in first.task_ids:
        run_stages(app, task_id, 2)
    app.pause_plan(second.plan_id, "bob")
    app.resume_plan(second.plan_id, "bob")
    return created


def distinct_attributed(records: list[KafkaRecord]) -> int:
    """How many Task and TenantTasks aggregates the records are of."""
    kinds = {"Task", "TenantTasks"}
    return len({r.key for r in records if headers(r)["ce_aggregatetype"] in kinds})


def test_every_message_names_its_aggregates_tenant_and_plan(memory_app: Switchyard) -> None:
    two_plans(memory_app)
    for size in (1, 7, 1000):
        attribution = Attribution(memory_app.mapper.transcoder, first_events(memory_app.recorder))
        records = read_in_batches(memory_app, attribution, size)
        assert unattributed([headers(r) for r in records], memory_app) == []
    task_messages = [r for r in records if headers(r)["ce_aggregatetype"] == "Task"]
    named_in_fields = [r for r in task_messages if "tenant_id" in json.loads(r.value)]
    assert len(named_in_fields) == 4 < len(task_messages)


def test_a_reader_starting_mid_log_asks_for_first_events_once_per_batch_and_aggregate(
    memory_app: Switchyard,
) -> None:
    created = two_plans(memory_app)
    counting = CountingFirstEvents(memory_app)
    records = read_in_batches(
        memory_app, Attribution(memory_app.mapper.transcoder, counting), 5, after=created
    )
    assert unattributed([headers(r) for r in records], memory_app) == []
    assert 0 < len(counting.calls) <= -(-len(records) // 5)
    assert sum(counting.calls) == distinct_attributed(records)


def test_a_reader_that_forgets_asks_again_and_stays_right(memory_app: Switchyard) -> None:
    created = two_plans(memory_app)
    counting = CountingFirstEvents(memory_app)
    attribution = Attribution(memory_app.mapper.transcoder, counting, memory_size=1)
    records = read_in_batches(memory_app, attribution, 1, after=created)
    assert unattributed([headers(r) for r in records], memory_app) == []
    assert sum(counting.calls) > distinct_attributed(records)


def test_a_tenants_task_list_keeps_the_plan_each_assignment_names(memory_app: Switchyard) -> None:
    two_plans(memory_app)
    attribution = Attribution(memory_app.mapper.transcoder, first_events(memory_app.recorder))
    assigned = [
        r
        for r in read_in_batches(memory_app, attribution, 1)
        if headers(r)["ce_type"] == "switchyard.tenanttasks.TaskAssigned"
    ]
    assert len(assigned) == 4
    for record in assigned:
        assert headers(record)["ce_planid"] == json.loads(record.value)["plan_id"]


def test_a_standard_consumer_reads_the_tenant_and_plan_of_a_stage_event(
    memory_app: Switchyard,
) -> None:
    created = memory_app.create_plan(plan_request("acme"), "alice")
    after = memory_app.recorder.max_notification_id() or 0
    run_stages(memory_app, created.task_ids[0], 1)
    attribution = Attribution(memory_app.mapper.transcoder, first_events(memory_app.recorder))
    record = next(
        r
        for r in read_in_batches(memory_app, attribution, 100, after=after)
        if headers(r)["ce_type"] == "switchyard.task.StageCompleted"
    )
    event = from_binary(KafkaMessage(dict(record.headers), record.key, record.value))
    assert (event["tenantid"], event["planid"]) == ("acme", str(created.plan_id))
