"""The W3C traceparent of a command, stored with every event the command records.

The library's events have no metadata, so the traceparent travels in the
event's stored state under one extra key, `_metadata`: `TracingMapper` adds it
when a command runs inside `trace_context(traceparent)` and removes it when it
rebuilds an event, so aggregates, events and replays never see it. The relay
reads it from the stored state and passes it on as Kafka headers.

Only version-00 traceparents are taken
(`00-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>`, neither id all
zeros). A malformed one is ignored with a warning, as W3C trace-context asks:
the command runs, untraced.

Events that workers record (claims, stages) carry no traceparent: no command
caused them, and carrying the task's last command's would mean reading back
metadata that replay deliberately drops. A trace ends at the command's own
events.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

log = logging.getLogger(__name__)

METADATA = "_metadata"
"""The stored-state key that holds an event's metadata; never an event's own field."""

TRACEPARENT = "traceparent"
"""The metadata key of the W3C traceparent (and the Kafka header that carries it)."""

_VERSION_00 = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")

_current: ContextVar[str | None] = ContextVar("traceparent", default=None)


def is_valid_traceparent(value: str) -> bool:
    """Whether the value is a well-formed version-00 W3C traceparent."""
    return _VERSION_00.fullmatch(value) is not None


@contextmanager
def trace_context(traceparent: str | None) -> Iterator[str | None]:
    """Run the commands inside in this trace; yields the traceparent taken (None if none)."""
    taken = traceparent or None
    if taken is not None and not is_valid_traceparent(taken):
        log.warning("ignoring a malformed traceparent: %r", taken)
        taken = None
    token = _current.set(taken)
    try:
        yield taken
    finally:
        _current.reset(token)


def current_traceparent() -> str | None:
    """The traceparent of the trace context in effect, if any."""
    return _current.get()


class TracingMapper(Mapper[UUID]):
    """The library's mapper, storing the current traceparent in each event's `_metadata`."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Store the event, with the traceparent in effect added to its state."""
        traceparent = _current.get()
        if traceparent is None:
            return super().to_stored_event(domain_event)
        traced = object.__new__(type(domain_event))
        state: dict[str, Any] = {**vars(domain_event), METADATA: {TRACEPARENT: traceparent}}
        object.__setattr__(traced, "__dict__", state)
        return super().to_stored_event(traced)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Rebuild the event without its metadata."""
        domain_event = super().to_domain_event(stored_event)
        vars(domain_event).pop(METADATA, None)
        return domain_event


def metadata_traceparent(metadata: object) -> str | None:
    """The traceparent in an event's stored metadata (its `_metadata` value), if any."""
    if not isinstance(metadata, dict):
        return None
    traceparent = metadata.get(TRACEPARENT)
    return traceparent if isinstance(traceparent, str) else None
