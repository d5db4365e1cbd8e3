"""Value objects that events carry: stage and step definitions, stage outcomes, failures.

Each value converts to and from plain JSON data (`to_data` / `from_data`), so the
event store can keep it and give back an equal value (tuples and enums included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FailureType(StrEnum):
    """What kind of failure ended a stage, a run or a rollback."""

    TIMEOUT = "timeout"
    IO = "io"
    CLIENT_ERROR = "client_error"
    RATE_LIMITED = "rate_limited"
    CIRCUIT_OPEN = "circuit_open"
    HEALTH_CHECK = "health_check"
    FATAL = "fatal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StepDefinition:
    """One step of a stage: a step kind (e.g. `redis-write`) and its parameters."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """Give the step as plain JSON data."""
        return {"kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StepDefinition:
        """Rebuild a step from `to_data` output."""
        return cls(kind=data["kind"], params=dict(data["params"]))


@dataclass(frozen=True)
class StageDefinition:
    """An ordered list of steps that runs to its end once started."""

    name: str
    steps: tuple[StepDefinition, ...]
    timeout_seconds: float | None = None

    def to_data(self) -> dict[str, Any]:
        """Give the stage as plain JSON data."""
        return {
            "name": self.name,
            "steps": [step.to_data() for step in self.steps],
            "timeout_seconds": self.timeout_seconds,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StageDefinition:
        """Rebuild a stage from `to_data` output."""
        return cls(
            name=data["name"],
            steps=tuple(StepDefinition.from_data(s) for s in data["steps"]),
            timeout_seconds=data.get("timeout_seconds"),
        )


@dataclass(frozen=True)
class FailureInfo:
    """Why something failed: its type, a message for people, and what the step saw (if any)."""

    type: FailureType
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """Give the failure as plain JSON data (`details` only when there are some, so a
        failure without them has the shape it had before they were kept)."""
        data: dict[str, Any] = {"type": str(self.type), "message": self.message}
        return {**data, "details": dict(self.details)} if self.details else data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> FailureInfo:
        """Rebuild a failure from `to_data` output (recorded before details were kept, too)."""
        details = dict(data.get("details") or {})
        return cls(type=FailureType(data["type"]), message=data["message"], details=details)


@dataclass(frozen=True)
class StageOutcome:
    """What a completed stage recorded: its index, name, and the data its undo needs."""

    index: int
    name: str
    result: Mapping[str, Any] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """Give the outcome as plain JSON data."""
        return {"index": self.index, "name": self.name, "result": dict(self.result)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> StageOutcome:
        """Rebuild an outcome from `to_data` output."""
        return cls(index=data["index"], name=data["name"], result=dict(data["result"]))


VALUE_TYPES: tuple[type[Any], ...] = (StepDefinition, StageDefinition, FailureInfo, StageOutcome)
"""Every value type that events carry; each needs a transcoding in the event store."""
