"""Small pieces of the HTML report: times, durations, counts and status badges, escaped."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape


def when(at: datetime | None) -> str:
    """A time as ISO 8601 to the second, or a dash."""
    return "-" if at is None else escape(at.isoformat(timespec="seconds"))


def seconds(value: float | None) -> str:
    """A duration: in milliseconds below a second, tenths of a second below a minute, else
    in minutes and seconds (or hours and minutes)."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 60:
        return f"{value:.1f}s"
    minutes, rest = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{rest:02d}s"


def between(start: datetime | None, end: datetime | None) -> str:
    """The duration from start to end, or an empty string if either is missing."""
    if start is None or end is None:
        return ""
    return seconds((end - start).total_seconds())


def counts(found: Mapping[str, int]) -> str:
    """Each counted value with its count (as `2.5.0 &times;3`), most first."""
    return ", ".join(f"{escape(value)} &times;{n}" for value, n in found.items()) or "-"


def badge(status: str) -> str:
    """A status as a coloured badge."""
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'
