"""A plan chunk's events as stored events, each value they share encoded once.

The events of a chunk of tenants share most of their values: the chunk's
timestamp, the plan's id, the actor, a service type's stages. The library's
mapper encodes each event whole, its JSON encoder calling back into Python
for every UUID, datetime and value object: most of a big plan's time. Here an
event's state is written by orjson, field by field: strings, whole numbers,
booleans and None as they are, UUIDs from their hex (when the transcoder
stores UUIDs as the library's `UUIDAsHex` does), and any other value encoded
by the app's own transcoder the first time it is met and embedded as a JSON
fragment after that. The bytes are the ones the app's mapper writes, traceparent
metadata, compression and encryption included (a unit test compares them).

An encoder lives for one chunk: the values it keeps (by identity) are those of
the chunk's events, which nothing changes once they are made.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, UUIDAsHex
from eventsourcing.utils import get_topic, resolve_topic

from switchyard.application.new_tasks import EventRecord
from switchyard.application.tracing import METADATA, TRACEPARENT, current_traceparent

_INT64 = range(-(2**63), 2**63)
_AS_THEY_ARE = frozenset({str, bool, type(None)})
_ORIGINATOR = frozenset({"originator_id", "originator_version"})


class ChunkEncoder:
    """Turns events into stored events as the mapper would, a shared value encoded once."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self._mapper = mapper
        self._transcoder = mapper.transcoder
        types = self._transcoder.types if isinstance(self._transcoder, JSONTranscoder) else {}
        by_hex = types.get(UUID)
        self._uuid_prefix = (
            b'{"_type_":' + orjson.dumps(by_hex.name) + b',"_data_":"'
            if type(by_hex) is UUIDAsHex
            else None
        )
        self._known: dict[int, tuple[Any, orjson.Fragment]] = {}
        self._kinds: dict[type[Any], tuple[str, dict[str, Any]]] = {}
        self._extras: dict[str, dict[str, Any]] = {}
        traceparent = current_traceparent()
        self._metadata = None if traceparent is None else {TRACEPARENT: traceparent}

    def stored(self, event: DomainEventProtocol[UUID]) -> StoredEvent:
        """The stored event the mapper's `to_stored_event` gives for this event."""
        fields = vars(event)
        topic, extra = self._kinds.get(type(event)) or self._kind(type(event))
        state = {key: value for key, value in fields.items() if key not in _ORIGINATOR}
        data = self._encoded(state, extra)
        return StoredEvent(fields["originator_id"], fields["originator_version"], topic, data)

    def stored_record(self, record: EventRecord) -> StoredEvent:
        """The stored event the mapper gives for the event the record describes."""
        extra = self._extras.get(record.topic)
        if extra is None:
            extra = self._extras[record.topic] = self._kind(resolve_topic(record.topic))[1]
        data = self._encoded(record.state, extra)
        return StoredEvent(record.originator_id, record.originator_version, record.topic, data)

    def _encoded(self, state: dict[str, Any], extra: dict[str, Any]) -> bytes:
        written = {
            key: value if type(value) in _AS_THEY_ARE else self._value(value)
            for key, value in state.items()
        }
        if extra:
            written.update(extra)
        # orjson's bytes keep the buffer it wrote them in (kilobytes for a small state):
        # copied to their size, a chunk's events take a tenth of the memory.
        data = bytes(memoryview(orjson.dumps(written)))
        if self._mapper.compressor:
            data = self._mapper.compressor.compress(data)
        if self._mapper.cipher:
            data = self._mapper.cipher.encrypt(data)
        return data

    def _kind(self, kind: type[Any]) -> tuple[str, dict[str, Any]]:
        """An event class's topic and the keys the mapper adds to its state."""
        extra: dict[str, Any] = {}
        class_version = getattr(kind, "class_version", 1)
        if class_version > 1:
            extra["class_version"] = class_version
        if self._metadata is not None:
            extra[METADATA] = self._value(self._metadata)
        self._kinds[kind] = get_topic(kind), extra
        return self._kinds[kind]

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is int and value in _INT64:
            return value
        if kind is UUID and self._uuid_prefix is not None:
            return orjson.Fragment(self._uuid_prefix + value.hex.encode() + b'"}')
        known = self._known.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        fragment = orjson.Fragment(self._transcoder.encode(value))
        self._known[id(value)] = (value, fragment)
        return fragment
