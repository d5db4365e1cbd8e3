"""Tables that map a library's exception classes to what switchyard makes of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

V = TypeVar("V")


def most_specific(exc: BaseException, table: Mapping[type[BaseException], V]) -> V | None:
    """The table's entry for the exception's closest class in its hierarchy, or None."""
    matches = [cls for cls in table if isinstance(exc, cls)]
    if not matches:
        return None
    return table[min(matches, key=lambda cls: type(exc).__mro__.index(cls))]


def first_line(exc: BaseException) -> str:
    """The first line of the exception's message (its class name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
