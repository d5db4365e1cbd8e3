"""The transcodings switchyard's events need: the library's, and one per value object."""

from __future__ import annotations

from typing import Any, Protocol, Self

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)

from switchyard.domain.values import VALUE_TYPES


class _Value(Protocol):
    def to_data(self) -> dict[str, Any]: ...

    @classmethod
    def from_data(cls, data: Any) -> Self: ...


class ValueAsData(Transcoding):
    """Stores a value object as its `to_data()` and rebuilds it with `from_data()`."""

    def __init__(self, value_type: type[_Value]) -> None:
        self.type = value_type
        self.value_type = value_type
        self.name = value_type.__name__

    def encode(self, obj: _Value) -> dict[str, Any]:
        """Give the value as plain JSON data."""
        return obj.to_data()

    def decode(self, data: Any) -> _Value:
        """Rebuild the value from its data."""
        return self.value_type.from_data(data)


def value_transcodings() -> list[Transcoding]:
    """One transcoding per value type that events carry."""
    return [ValueAsData(value_type) for value_type in VALUE_TYPES]


def register_event_transcodings(transcoder: JSONTranscoder) -> None:
    """Register on a transcoder every transcoding switchyard's stored events use."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), *value_transcodings()):
        transcoder.register(transcoding)
