"""The Kafka message of a stored event: CloudEvents binary-mode headers, key and JSON value.

The CloudEvents SDK is the oracle: every message must be byte for byte what its
`to_binary` makes of the event, and its `from_binary` must read it back.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import KafkaMessage, from_binary, to_binary
from eventsourcing.persistence import Notification, Transcoder, TranscodingNotRegisteredError

from switchyard.adapters.kafka.format import KafkaRecord, sequence_header, to_record
from switchyard.application.app import Switchyard
from switchyard.application.tracing import trace_context
from switchyard.domain.values import VALUE_TYPES
from tests.support.builders import plan_request, run_stages, undo_stages

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


def records(app: Switchyard) -> list[KafkaRecord]:
    """Every stored event of the app as a Kafka record, in notification order."""
    notifications = app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    return [to_record(n, app.mapper.transcoder) for n in notifications]


def headers(record: KafkaRecord) -> dict[str, str]:
    """The record's headers as text."""
    return {name: value.decode() for name, value in record.headers}


def play_every_kind_of_event(app: Switchyard) -> None:
    """Commands traced and not, stages run, failed, retried and undone, plan-wide steering."""
    with trace_context(TRACEPARENT):
        created = app.create_plan(plan_request("acme", "globex", "initech"), "zoë")
    acme, globex, _ = created.task_ids
    run_stages(app, acme, 3)
    run_stages(app, globex, 1, fail_next=True)
    with trace_context(OTHER_TRACEPARENT):
        app.retry_task(globex, "bob", reason="fixed the route")
        app.rollback_task(acme, "bob", "bad release")
    undo_stages(app, acme, 1, fail_next=True)
    app.pause_plan(created.plan_id, "carol", "freeze")
    with trace_context(TRACEPARENT):
        app.cancel_plan(created.plan_id, "dave")


def plain(value: Any) -> Any:
    """The JSON-ready form of a decoded value: ids as strings, times RFC 3339."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, VALUE_TYPES):  # stored as their `to_data()` (ValueAsData)
        return plain(value.to_data())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def sdk_record(notification: Notification, transcoder: Transcoder) -> KafkaRecord:
    """What the CloudEvents SDK makes of the stored event, decoded into the app's values."""
    fields = transcoder.decode(notification.state)
    metadata = fields.pop("_metadata", {})
    fields.pop("originator_topic", None)
    aggregate_type, event_name = notification.topic.partition(":")[2].split(".")
    aggregate_id = str(notification.originator_id)
    attributes = {
        "specversion": "1.0",
        "id": f"{aggregate_id}:{notification.originator_version}",
        "source": "switchyard",
        "type": f"switchyard.{aggregate_type.lower()}.{event_name}",
        "time": fields["timestamp"].isoformat(),
        "datacontenttype": "application/json",
        "partitionkey": aggregate_id,
        "sequence": str(notification.id).zfill(20),
        "aggregateid": aggregate_id,
        "aggregatetype": aggregate_type,
        "aggregateversion": str(notification.originator_version),
    }
    for attribute, field in (("tenantid", "tenant_id"), ("planid", "plan_id"), ("actor", "actor")):
        if fields.get(field) is not None:
            attributes[attribute] = str(plain(fields[field]))
    if "traceparent" in metadata:
        attributes["traceparent"] = metadata["traceparent"]
    message = to_binary(
        CloudEvent(attributes, plain(fields)),
        data_marshaller=lambda data: json.dumps(data, separators=(",", ":"), ensure_ascii=False),
    )
    extra = [("traceparent", metadata["traceparent"].encode())] if metadata else []
    return KafkaRecord(
        key=str(message.key).encode(),
        value=bytes(message.value),
        headers=[*message.headers.items(), *extra],
    )


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


def test_every_message_is_what_the_cloudevents_sdk_makes(memory_app: Switchyard) -> None:
    play_every_kind_of_event(memory_app)
    notifications = memory_app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
    transcoder = memory_app.mapper.transcoder
    assert len(notifications) > 40
    for notification in notifications:
        assert to_record(notification, transcoder) == sdk_record(notification, transcoder)


def test_a_standard_consumer_reads_every_message(memory_app: Switchyard) -> None:
    play_every_kind_of_event(memory_app)
    for record in records(memory_app):
        event = from_binary(KafkaMessage(dict(record.headers), record.key, record.value))
        assert event["partitionkey"] == record.key
        assert event["sequence"] == headers(record)["ce_sequence"]
        assert event.get("traceparent") == headers(record).get("traceparent")
        assert event.get_data() == json.loads(record.value)


def test_a_traced_event_carries_its_traceparent_in_headers_only(
    memory_app: Switchyard,
) -> None:
    with trace_context(TRACEPARENT):
        memory_app.create_plan(plan_request("acme"), actor="alice")
    memory_app.pause_tenant("acme", "bob")
    traced, untraced = records(memory_app)[0], records(memory_app)[-1]
    assert headers(traced)["traceparent"] == TRACEPARENT
    assert headers(traced)["ce_traceparent"] == TRACEPARENT
    assert "_metadata" not in json.loads(traced.value)
    assert "traceparent" not in headers(untraced)
    assert "ce_traceparent" not in headers(untraced)


def test_an_unknown_stored_type_is_refused(memory_app: Switchyard) -> None:
    memory_app.create_plan(plan_request("acme"), actor="alice")
    stored = memory_app.recorder.select_notifications(0, 1, inclusive_of_start=False)[0]
    state = json.loads(stored.state)
    state["tenant_ids"] = {"_type_": "no_such_type", "_data_": "acme"}
    unknown = dataclasses.replace(stored, state=json.dumps(state).encode())
    with pytest.raises(TranscodingNotRegisteredError):
        to_record(unknown, memory_app.mapper.transcoder)
