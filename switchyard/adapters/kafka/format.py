"""One stored event as one Kafka message: the CloudEvents Kafka binding, binary mode.

Key: the aggregate id (the CloudEvents `partitionkey`, which the binding maps to
the key and sends no header for). Headers, in this order: `content-type`,
`ce_specversion`, `ce_id` (`{aggregate id}:{version}`), `ce_source`, `ce_type`
(`switchyard.task.StageCompleted`), `ce_time`, and the extensions `ce_sequence`
(the notification id, zero-padded to 20 digits, so it compares as a string),
`ce_aggregateid`, `ce_aggregatetype`, `ce_aggregateversion`, `ce_tenantid` /
`ce_planid` when the caller gives the aggregate's (`adapters.relay.attribution`) or
the event's own fields name one, and `ce_actor` when the event has one. When
the command that caused the event ran in a trace, `ce_traceparent` (the
CloudEvents distributed-tracing extension) and `traceparent` (what
OpenTelemetry's Kafka instrumentations read) carry its W3C traceparent. Value:
the event's fields as JSON (ids as strings, times RFC 3339), without the
library's bookkeeping or the event's metadata.

This is the relay's hot path, so the message is built here rather than through
the CloudEvents SDK (a unit test holds it byte for byte to what the SDK's
`to_binary` makes), and the value comes straight from the stored JSON: parsed
and written by orjson (JSON was most of the time spent here), with the
transcoder's wrappers (`{"_type_": name, "_data_": data}`) replaced by their
data (an id's hex by its dashed form), so no value object is built only to be
turned back into JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson
from eventsourcing.persistence import (
    JSONTranscoder,
    Notification,
    Transcoder,
    TranscodingNotRegisteredError,
)

from switchyard.application.tracing import METADATA, metadata_traceparent

SOURCE = "switchyard"
"""The `ce_source` of every message."""

SEQUENCE_DIGITS = 20
"""`ce_sequence` is zero-padded to this many digits, so string order is numeric order."""

_LIBRARY_FIELDS = ("originator_topic",)
"""Stored fields that are the library's bookkeeping, not the event's."""

_OPTIONAL_HEADERS = (("ce_tenantid", "tenant_id"), ("ce_planid", "plan_id"), ("ce_actor", "actor"))
"""Headers sent when the aggregate's attribution or the event's field gives them, and the field."""

UNATTRIBUTED: Mapping[str, bytes] = MappingProxyType({})
"""No headers known from the event's aggregate: only the event's own fields give them."""

_FIXED_HEADERS = [
    ("content-type", b"application/json"),
    ("ce_specversion", b"1.0"),
]
"""The headers every message starts with."""

_SOURCE = SOURCE.encode()


@dataclass(frozen=True)
class KafkaRecord:
    """A message ready for a producer: key, value and headers as bytes."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def to_record(
    notification: Notification,
    transcoder: Transcoder,
    attribution: Mapping[str, bytes] = UNATTRIBUTED,
) -> KafkaRecord:
    """The Kafka message for one stored event, written by the app's JSON transcoder.

    `attribution` holds optional headers that belong to the event's aggregate rather
    than to the event (a task's tenant and plan); they win over the event's fields.
    """
    fields = _plain_fields(notification.state, transcoder)
    if not isinstance(fields, dict):
        raise TypeError(f"event {notification.id} does not decode to an object")
    for name in _LIBRARY_FIELDS:
        fields.pop(name, None)
    traceparent = metadata_traceparent(fields.pop(METADATA, None))
    aggregate_type, event_name = _split_topic(notification.topic)
    aggregate_id = str(notification.originator_id).encode()
    version = str(notification.originator_version).encode()
    headers = [
        *_FIXED_HEADERS,
        ("ce_id", aggregate_id + b":" + version),
        ("ce_source", _SOURCE),
        ("ce_type", f"{SOURCE}.{aggregate_type.lower()}.{event_name}".encode()),
        ("ce_time", str(fields["timestamp"]).encode()),
        ("ce_sequence", sequence_header(notification.id).encode()),
        ("ce_aggregateid", aggregate_id),
        ("ce_aggregatetype", aggregate_type.encode()),
        ("ce_aggregateversion", version),
    ]
    for header, field in _OPTIONAL_HEADERS:
        value = attribution.get(header)
        if value is None and fields.get(field) is not None:
            value = str(fields[field]).encode()
        if value is not None:
            headers.append((header, value))
    if traceparent is not None:
        headers += [("ce_traceparent", traceparent.encode()), ("traceparent", traceparent.encode())]
    return KafkaRecord(key=aggregate_id, value=orjson.dumps(fields), headers=headers)


def field_headers(state: bytes, transcoder: Transcoder) -> dict[str, bytes]:
    """The optional headers a stored event's own fields give (`ce_tenantid`, ...)."""
    fields = _plain_fields(state, transcoder)
    return {h: str(fields[f]).encode() for h, f in _OPTIONAL_HEADERS if fields.get(f) is not None}


def aggregate_type_of(topic: str) -> str:
    """The aggregate type a stored event's topic names ("Task")."""
    return _split_topic(topic)[0]


def sequence_header(notification_id: int) -> str:
    """The `ce_sequence` value of a notification id."""
    return str(notification_id).zfill(SEQUENCE_DIGITS)


@functools.lru_cache(maxsize=256)
def _split_topic(topic: str) -> tuple[str, str]:
    """("Task", "StageCompleted") from "domain.task:Task.StageCompleted"."""
    _, _, qualname = topic.partition(":")
    aggregate_type, _, event_name = qualname.rpartition(".")
    return aggregate_type or qualname, event_name


_NESTED = (dict, list)


def _plain_fields(state: bytes, transcoder: Transcoder) -> Any:
    """The stored JSON, parsed, with every transcoder wrapper replaced by its data."""
    return _unwrapper(transcoder)(orjson.loads(state))


@functools.lru_cache(maxsize=8)
def _unwrapper(transcoder: Transcoder) -> Callable[[Any], Any]:
    """A function giving parsed stored JSON with each of the transcoder's wrappers
    replaced by its plain data."""
    if not isinstance(transcoder, JSONTranscoder):
        raise TypeError(f"events must be stored as JSON, not by {type(transcoder).__name__}")
    names = transcoder.names

    def unwrap(value: Any) -> Any:
        # In place: the parsed JSON is this call's own.
        if type(value) is list:
            for index, item in enumerate(value):
                if type(item) in _NESTED:
                    value[index] = unwrap(item)
            return value
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            name, data = value["_type_"], value["_data_"]
            if name == "uuid_hex":
                return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"
            if name not in names:
                raise TranscodingNotRegisteredError(f"no transcoding is registered as {name!r}")
            return unwrap(data) if type(data) in _NESTED else data
        for key, item in value.items():
            if type(item) in _NESTED:
                value[key] = unwrap(item)
        return value

    return unwrap
