"""One event as the read side sees it: built from a Kafka message or a stored event.

`ProjectedEvent` carries what the relay's message carries (`ce_*` headers and
the JSON value, see docs/events.md), so the projector's Kafka path and the
rebuild from the event store feed the same handlers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson


@dataclass(frozen=True)
class ProjectedEvent:
    """One event: where it sits in the log and in its aggregate, who caused it, its fields."""

    sequence: int
    time: datetime
    aggregate_type: str
    aggregate_id: str
    version: int
    name: str
    payload: Mapping[str, Any]
    tenant_id: str | None = None
    plan_id: str | None = None
    actor: str | None = None
    traceparent: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data (to hold it until a gap fills)."""
        data = asdict(self)
        data["time"] = self.time.isoformat()
        data["payload"] = dict(self.payload)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectedEvent:
        """The event `to_json` gave."""
        return cls(**{**data, "time": datetime.fromisoformat(data["time"])})


def from_message(headers: Sequence[tuple[str, bytes]], value: bytes) -> ProjectedEvent:
    """The event a relay's message carries (its CloudEvents headers and JSON value)."""
    found = {name: raw.decode() for name, raw in headers}
    _, _, name = found["ce_type"].rpartition(".")
    return ProjectedEvent(
        sequence=int(found["ce_sequence"]),
        time=datetime.fromisoformat(found["ce_time"]),
        aggregate_type=found["ce_aggregatetype"],
        aggregate_id=found["ce_aggregateid"],
        version=int(found["ce_aggregateversion"]),
        name=name,
        payload=orjson.loads(value),
        tenant_id=found.get("ce_tenantid"),
        plan_id=found.get("ce_planid"),
        actor=found.get("ce_actor"),
        traceparent=found.get("traceparent"),
    )
