"""The hand-written JSON Schemas: the heartbeat value, and the headers of both topics.

A heartbeat is not a stored event, so no event class describes it (see
`adapters.kafka.event_schemas` for those). Kafka headers are name/bytes pairs; their
schemas describe them as one JSON object of UTF-8 strings, the way a consumer
reads them into a dict. As for the values, unknown headers are allowed.
"""

from __future__ import annotations

from typing import Any

from switchyard.adapters.kafka.format import SEQUENCE_DIGITS, SOURCE
from switchyard.adapters.relay.attribution import ALWAYS_SENT
from switchyard.adapters.relay.heartbeats import HEARTBEAT_TYPE
from switchyard.domain.status import TaskStatus

DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect of every schema switchyard publishes."""

COMPATIBILITY = (
    "Consumers must ignore properties they do not know: fields may be added. "
    "What each header means: docs/events.md."
)
"""The forward-compatibility rule, said in every schema's description."""

_UUID_TEXT = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_TRACEPARENT = {
    "type": "string",
    "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
    "description": "W3C trace context of the command that caused the event, when it had one.",
}


def object_schema(
    title: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """An object schema that names its required properties and allows others."""
    return {
        "title": title,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def heartbeat_schema() -> dict[str, Any]:
    """The value of a heartbeat message: one leased task's progress."""
    properties = {
        "task_id": _UUID,
        "plan_id": _UUID,
        "tenant_id": {"type": "string"},
        "owner": {"type": "string", "description": "The scheduler worker holding the lease."},
        "fence": {"type": "integer", "description": "The lease's fencing token."},
        "status": {"type": "string", "enum": [s.value for s in TaskStatus]},
        "current_stage": {"type": ["string", "null"], "description": "The stage running now."},
        "completed_stages": {"type": "integer", "minimum": 0},
        "total_stages": {"type": "integer", "minimum": 0},
        "heartbeat_at": {**_TIME, "description": "When the worker renewed its lease."},
    }
    return {
        "$schema": DIALECT,
        **object_schema(
            title=HEARTBEAT_TYPE,
            description=(
                "A scheduler's liveness and progress signal for one task it holds, on the "
                "heartbeat topic (key: the task id). Not a stored event: at most once, no "
                f"ce_sequence, not re-derivable. {COMPATIBILITY}"
            ),
            properties=properties,
            required=list(properties),
        ),
    }


def event_headers_schema() -> dict[str, Any]:
    """The headers of a message on the events topic (one stored event each)."""
    properties: dict[str, Any] = {
        **_common_headers(),
        "ce_id": {"type": "string", "pattern": f"^{_UUID_TEXT}:[1-9][0-9]*$"},
        "ce_type": {"type": "string", "pattern": f"^{SOURCE}\\.[a-z]+\\.[A-Za-z]+$"},
        "ce_sequence": {"type": "string", "pattern": f"^[0-9]{{{SEQUENCE_DIGITS}}}$"},
        "ce_aggregatetype": {"type": "string"},
        "ce_aggregateversion": {"type": "string", "pattern": "^[1-9][0-9]*$"},
        "ce_tenantid": {
            "type": "string",
            "description": "The tenant: on every message of a Task or TenantTasks, and on "
            "others whose event names one.",
        },
        "ce_planid": {
            **_UUID,
            "description": "The plan: on every message of a Task or Plan, and on others whose "
            "event names one (a TenantTasks' TaskAssigned).",
        },
        "ce_actor": {"type": "string"},
        "traceparent": _TRACEPARENT,
        "ce_traceparent": _TRACEPARENT,
    }
    required = [
        *_common_headers(),
        "ce_id",
        "ce_type",
        "ce_sequence",
        "ce_aggregatetype",
        "ce_aggregateversion",
    ]
    return {
        "$schema": DIALECT,
        **object_schema(
            title=f"{SOURCE}.events headers",
            description=f"The CloudEvents headers of a stored event's message. {COMPATIBILITY}",
            properties=properties,
            required=required,
        ),
        "allOf": [_required_for(kind, list(names)) for kind, names in ALWAYS_SENT.items()],
    }


def _required_for(aggregate_type: str, headers: list[str]) -> dict[str, Any]:
    """A condition: the messages of this aggregate type have these headers too."""
    return {
        "if": {
            "properties": {"ce_aggregatetype": {"const": aggregate_type}},
            "required": ["ce_aggregatetype"],
        },
        "then": {"required": headers},
    }


def heartbeat_headers_schema() -> dict[str, Any]:
    """The headers of a message on the heartbeat topic."""
    properties: dict[str, Any] = {
        **_common_headers(),
        "ce_id": {"type": "string", "pattern": f"^{_UUID_TEXT}:heartbeat:[0-9]+$"},
        "ce_type": {"const": HEARTBEAT_TYPE},
        "ce_aggregatetype": {"const": "Task"},
        "ce_tenantid": {"type": "string"},
        "ce_planid": _UUID,
    }
    return {
        "$schema": DIALECT,
        **object_schema(
            title=f"{SOURCE}.heartbeats headers",
            description=f"The CloudEvents headers of a heartbeat message. {COMPATIBILITY}",
            properties=properties,
            required=list(properties),
        ),
    }


def _common_headers() -> dict[str, Any]:
    return {
        "ce_specversion": {"const": "1.0"},
        "ce_source": {"const": SOURCE},
        "ce_time": _TIME,
        "content-type": {"const": "application/json"},
        "ce_aggregateid": _UUID,
    }
