"""One stored event as one Kafka message: the CloudEvents Kafka binding, binary mode.

Key: the aggregate id. Headers: `ce_specversion`, `ce_id`
(`{aggregate id}:{version}`), `ce_source`, `ce_type`
(`switchyard.task.StageCompleted`), `ce_time`, `content-type`, and the
extensions `ce_sequence` (the notification id, zero-padded to 20 digits, so it
compares as a string), `ce_aggregateid`, `ce_aggregatetype`,
`ce_aggregateversion`, and `ce_tenantid` / `ce_planid` / `ce_actor` when the
event's own fields carry them. Value: the event's fields as JSON (ids as
strings, times RFC 3339).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cloudevents.v1.http import CloudEvent
from cloudevents.v1.kafka import to_binary
from eventsourcing.persistence import Notification, Transcoder

SOURCE = "switchyard"
"""The `ce_source` of every message."""

SEQUENCE_DIGITS = 20
"""`ce_sequence` is zero-padded to this many digits, so string order is numeric order."""

_LIBRARY_FIELDS = ("originator_topic",)
"""Stored fields that are the library's bookkeeping, not the event's."""


@dataclass(frozen=True)
class KafkaRecord:
    """A message ready for a producer: key, value and headers as bytes."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def to_record(notification: Notification, transcoder: Transcoder) -> KafkaRecord:
    """The Kafka message for one stored event, its state decoded by the app's transcoder."""
    fields = transcoder.decode(notification.state)
    if not isinstance(fields, dict):
        raise TypeError(f"event {notification.id} does not decode to an object")
    aggregate_type, event_name = _split_topic(notification.topic)
    aggregate_id = str(notification.originator_id)
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"{aggregate_id}:{notification.originator_version}",
        "source": SOURCE,
        "type": f"{SOURCE}.{aggregate_type.lower()}.{event_name}",
        "time": _plain(fields["timestamp"]),
        "datacontenttype": "application/json",
        "partitionkey": aggregate_id,
        "sequence": sequence_header(notification.id),
        "aggregateid": aggregate_id,
        "aggregatetype": aggregate_type,
        "aggregateversion": str(notification.originator_version),
    }
    for attribute, field in (("tenantid", "tenant_id"), ("planid", "plan_id"), ("actor", "actor")):
        if fields.get(field) is not None:
            attributes[attribute] = str(_plain(fields[field]))
    data = {k: _plain(v) for k, v in fields.items() if k not in _LIBRARY_FIELDS}
    message = to_binary(CloudEvent(attributes, data), data_marshaller=_json)
    key = message.key
    value = message.value
    return KafkaRecord(
        key=key.encode() if isinstance(key, str) else bytes(key or b""),
        value=value.encode() if isinstance(value, str) else value,
        headers=list(message.headers.items()),
    )


def sequence_header(notification_id: int) -> str:
    """The `ce_sequence` value of a notification id."""
    return str(notification_id).zfill(SEQUENCE_DIGITS)


def _split_topic(topic: str) -> tuple[str, str]:
    """("Task", "StageCompleted") from "domain.task:Task.StageCompleted"."""
    _, _, qualname = topic.partition(":")
    aggregate_type, _, event_name = qualname.rpartition(".")
    return aggregate_type or qualname, event_name


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    """The JSON-ready form of a decoded value: ids as strings, times RFC 3339."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value
