"""JSON Schemas (draft 2020-12) of the published messages, generated from the code.

One schema per event type (`switchyard.task.StageCompleted.json`) for the
message value, built from the aggregates' event classes: an aggregate records
the events its `@event` decorators name, and an event's stored fields are its
dataclass fields, typed by their annotations. Value objects (frozen
dataclasses) become `$defs`, StrEnums string enums; ids carry `format: uuid`,
times `format: date-time`. The fields without defaults are required. Other
properties are allowed on purpose: fields may be added to an event without
notice, so consumers must ignore what they do not know.

The heartbeat message is not an event; its schema is written here by hand. The
headers of both topics have a schema each too (`*.headers.json`); what each
header means is in docs/events.md.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CommandMethodDecorator

from switchyard.adapters.kafka.format import SOURCE
from switchyard.adapters.kafka.message_schemas import (
    COMPATIBILITY,
    DIALECT,
    event_headers_schema,
    heartbeat_headers_schema,
    heartbeat_schema,
    object_schema,
)
from switchyard.adapters.relay.heartbeats import HEARTBEAT_TYPE
from switchyard.domain.plan import Plan
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks

AGGREGATES: tuple[type[Aggregate], ...] = (Plan, Task, TenantTasks)
"""Every aggregate whose events the relay publishes."""

ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "originator_topic"})
"""Stored fields that travel in the headers (or are the library's), not in the value."""

_TIME = {"type": "string", "format": "date-time"}
_PLAIN: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    UUID: {"type": "string", "format": "uuid"},
    datetime: _TIME,
    Any: {},
}


@dataclasses.dataclass(frozen=True)
class EventType:
    """One event class of an aggregate, with what it means."""

    aggregate: type[Aggregate]
    event_class: type[Any]
    meaning: str

    @property
    def ce_type(self) -> str:
        """The `ce_type` of its messages, e.g. `switchyard.task.StageCompleted`."""
        return f"{SOURCE}.{self.aggregate.__name__.lower()}.{self.event_class.__name__}"


def event_types() -> list[EventType]:
    """Every event type the aggregates record, aggregate by aggregate, in declaration order."""
    found = []
    for aggregate in AGGREGATES:
        for attribute in vars(aggregate).values():
            if isinstance(attribute, CommandMethodDecorator) and attribute.event_cls_name:
                event_class = getattr(aggregate, attribute.event_cls_name)
                found.append(EventType(aggregate, event_class, _meaning(attribute)))
    return found


def _meaning(decorator: CommandMethodDecorator) -> str:
    """The event's meaning from its recording method's docstring, less "Record (that)"."""
    doc = (decorator.decorated_func.__doc__ or "").strip()
    if not doc:
        raise TypeError(f"the method recording {decorator.event_cls_name} has no docstring")
    meaning = re.sub(r"^Record (that )?", "", doc)
    return meaning[0].upper() + meaning[1:]


def event_schema(event: EventType) -> dict[str, Any]:
    """The schema of the value of one event type's messages."""
    hints = typing.get_type_hints(event.event_class)
    defs: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for field in dataclasses.fields(event.event_class):
        if field.name not in ENVELOPE_FIELDS:
            properties[field.name] = _schema_of(hints[field.name], defs)
    properties["timestamp"] = {**_TIME, "description": "When it was recorded; as `ce_time`."}
    schema = object_schema(
        title=event.ce_type,
        description=(
            f"{event.meaning} The value of a `{event.ce_type}` message "
            f"(key: the {event.aggregate.__name__} id). {COMPATIBILITY}"
        ),
        properties=properties,
        required=[f.name for f in dataclasses.fields(event.event_class) if _required(f)],
    )
    return {"$schema": DIALECT, **schema, **({"$defs": defs} if defs else {})}


def _required(field: dataclasses.Field[Any]) -> bool:
    has_default = not (
        field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )
    return not has_default and field.name not in ENVELOPE_FIELDS


def _schema_of(annotation: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of a value of this type as `to_record` writes it (JSON-ready)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation in _PLAIN:
        return dict(_PLAIN[annotation])
    if origin in (types.UnionType, typing.Union):
        return _nullable([a for a in args if a is not type(None)], defs)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        values = _schema_of(args[1], defs) if args else {}
        return {"type": "object", **({"additionalProperties": values} if values else {})}
    if isinstance(origin, type) and issubclass(origin, Sequence | frozenset | set):
        return {"type": "array", "items": _schema_of(args[0], defs)}
    if isinstance(annotation, type) and issubclass(annotation, enum.StrEnum):
        defs[annotation.__name__] = _enum(annotation)
        return {"$ref": f"#/$defs/{annotation.__name__}"}
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if annotation.__name__ not in defs:
            defs[annotation.__name__] = {}  # placeholder: a value may refer to itself
            defs[annotation.__name__] = _value_object(annotation, defs)
        return {"$ref": f"#/$defs/{annotation.__name__}"}
    raise TypeError(f"no JSON Schema for the event field type {annotation!r}")


def _nullable(options: list[Any], defs: dict[str, Any]) -> dict[str, Any]:
    if len(options) == 1:
        schema = _schema_of(options[0], defs)
        if isinstance(schema.get("type"), str):
            return {**schema, "type": [schema["type"], "null"]}
        return {"anyOf": [schema, {"type": "null"}]}
    return {"anyOf": [*(_schema_of(o, defs) for o in options), {"type": "null"}]}


def _enum(enum_class: type[enum.StrEnum]) -> dict[str, Any]:
    return {
        "description": (enum_class.__doc__ or enum_class.__name__).strip(),
        "type": "string",
        "enum": [member.value for member in enum_class],
    }


def _value_object(value_class: type[Any], defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(value_class)
    fields = dataclasses.fields(value_class)
    return object_schema(
        title=value_class.__name__,
        description=(value_class.__doc__ or value_class.__name__).strip(),
        properties={f.name: _schema_of(hints[f.name], defs) for f in fields},
        required=[f.name for f in fields if _required(f)],
    )


def schema_files() -> dict[str, str]:
    """Every published schema as file name -> JSON text, in a stable order."""
    schemas = {f"{e.ce_type}.json": event_schema(e) for e in event_types()}
    schemas[f"{HEARTBEAT_TYPE}.json"] = heartbeat_schema()
    schemas[f"{SOURCE}.events.headers.json"] = event_headers_schema()
    schemas[f"{SOURCE}.heartbeats.headers.json"] = heartbeat_headers_schema()
    return {name: json.dumps(s, indent=2, ensure_ascii=False) + "\n" for name, s in schemas.items()}


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into the folder and drop switchyard schemas no longer published."""
    folder.mkdir(parents=True, exist_ok=True)
    files = schema_files()
    for stale in folder.glob(f"{SOURCE}.*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
