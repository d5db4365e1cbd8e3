"""The Kafka message of a stored event: CloudEvents binary-mode headers, key and JSON value."""

from __future__ import annotations

import json

from cloudevents.v1.kafka import KafkaMessage, from_binary

from adapters.cloudevents_format import KafkaRecord, sequence_header, to_record
from application.app import Switchyard
from tests.scenarios import plan_request, run_stages


def records(app: Switchyard) -> list[KafkaRecord]:
    """Every stored event of the app as a Kafka record, in notification order."""
    notifications = app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    return [to_record(n, app.mapper.transcoder) for n in notifications]


def headers(record: KafkaRecord) -> dict[str, str]:
    """The record's headers as text."""
    return {name: value.decode() for name, value in record.headers}


def test_a_task_created_event_carries_every_header_and_its_fields(memory_app: Switchyard) -> None:
    created = memory_app.create_plan(plan_request("acme"), actor="alice")
    task_id = created.task_ids[0]
    record = next(r for r in records(memory_app) if r.key == str(task_id).encode())
    found = headers(record)
    assert found["ce_specversion"] == "1.0"
    assert found["ce_id"] == f"{task_id}:1"
    assert found["ce_source"] == "switchyard"
    assert found["ce_type"] == "switchyard.task.Created"
    assert found["content-type"] == "application/json"
    assert found["ce_aggregateid"] == str(task_id)
    assert found["ce_aggregatetype"] == "Task"
    assert found["ce_aggregateversion"] == "1"
    assert found["ce_tenantid"] == "acme"
    assert found["ce_planid"] == str(created.plan_id)
    assert found["ce_actor"] == "alice"
    assert found["ce_time"].endswith("+00:00")
    value = json.loads(record.value)
    assert value["plan_id"] == str(created.plan_id)
    assert value["tenant_id"] == "acme"
    assert value["timestamp"] == found["ce_time"]
    assert value["stages"][0]["name"] == "ConfigUpdate"
    assert "originator_topic" not in value


def test_transcoded_values_are_published_as_plain_json(memory_app: Switchyard) -> None:
    created = memory_app.create_plan(plan_request("acme"), actor="alice")
    run_stages(memory_app, created.task_ids[0], 1)
    completed = [r for r in records(memory_app) if b"StageCompleted" in dict(r.headers)["ce_type"]]
    assert len(completed) == 1
    value = json.loads(completed[0].value)
    assert value["outcome"]["index"] == 0
    assert value["outcome"]["name"] == "ConfigUpdate"
    assert "ce_tenantid" not in headers(completed[0])


def test_sequences_are_zero_padded_and_compare_as_strings(memory_app: Switchyard) -> None:
    memory_app.create_plan(plan_request("a", "b", "c"), actor="alice")
    sequences = [headers(r)["ce_sequence"] for r in records(memory_app)]
    assert all(len(s) == 20 for s in sequences)
    assert sequences == sorted(sequences)
    assert [int(s) for s in sequences] == list(range(1, len(sequences) + 1))
    assert sequence_header(9) < sequence_header(10)


def test_a_standard_cloudevents_consumer_reads_the_message(memory_app: Switchyard) -> None:
    memory_app.create_plan(plan_request("acme"), actor="alice")
    record = records(memory_app)[0]
    event = from_binary(KafkaMessage(dict(record.headers), record.key, record.value))
    assert event["type"] == "switchyard.plan.Created"
    assert event["source"] == "switchyard"
    assert event["sequence"] == "00000000000000000001"
    assert event["partitionkey"] == record.key
    assert event.get_data()["tenant_ids"] == ["acme"]
