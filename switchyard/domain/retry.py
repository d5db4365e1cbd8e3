"""Retry policy maths: how long to wait before each attempt, and when to stop.

Three backoffs: fixed, exponential (base x multiplier^(n-1), clamped to
[min, max], with a jitter ratio), and an explicit list of intervals
("1m,2m,4m", the last one repeating). Attempts may be unlimited. Randomness
comes in as a function, so the maths is deterministic in tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Random = Callable[[], float]
"""A source of floats in [0, 1), like `random.random`."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str | float) -> float:
    """Parse "500ms", "3s", "1m", "2h" or a bare number of seconds into seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"a duration must be a finite number >= 0: {text}")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 3s, 1m, 2h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_intervals(text: str) -> tuple[float, ...]:
    """Parse a comma-separated list of durations, e.g. "1m,2m,4m"."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("an interval list needs at least one duration")
    return tuple(parse_duration(part) for part in parts)


class Backoff(Protocol):
    """How long to wait before a given retry."""

    def delay(self, retry: int, random: Random) -> float:
        """Seconds to wait before retry number `retry` (1 = the first retry)."""
        ...


@dataclass(frozen=True)
class FixedBackoff:
    """The same wait before every retry."""

    interval: float

    def delay(self, retry: int, random: Random) -> float:
        """Seconds to wait before retry number `retry`: always the interval."""
        return self.interval


@dataclass(frozen=True)
class ExponentialBackoff:
    """A wait that grows by `multiplier` per retry, clamped, with a jitter ratio."""

    base: float = 1.0
    multiplier: float = 2.0
    minimum: float = 0.5
    maximum: float = 300.0
    jitter: float = 0.2

    def delay(self, retry: int, random: Random) -> float:
        """Seconds to wait before retry number `retry`, jittered within +/- jitter."""
        try:
            raw = min(self.base * self.multiplier ** (retry - 1), self.maximum)
        except OverflowError:  # unlimited attempts reach exponents no float can hold
            raw = self.maximum
        jittered = raw * (1 + self.jitter * (2 * random() - 1))
        return min(max(jittered, self.minimum), self.maximum)


@dataclass(frozen=True)
class IntervalBackoff:
    """An explicit list of waits; the last one repeats."""

    intervals: tuple[float, ...]

    def delay(self, retry: int, random: Random) -> float:
        """Seconds to wait before retry number `retry`, from the list."""
        return self.intervals[min(retry, len(self.intervals)) - 1]


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts (None = unlimited) and how long to wait between them."""

    max_attempts: int | None
    backoff: Backoff

    def delay_before(self, attempt: int, random: Random) -> float | None:
        """Seconds to wait before attempt number `attempt` (2 = first retry), or None to stop."""
        if attempt < 2:
            return 0.0
        if self.max_attempts is not None and attempt > self.max_attempts:
            return None
        return self.backoff.delay(attempt - 1, random)


def parse_retry_policy(spec: Mapping[str, Any]) -> RetryPolicy:
    """Build a policy from config: maxAttempts (int or "unlimited") and one backoff.

    Backoffs: `{"intervals": "1m,2m,4m"}`, `{"fixed": "2s"}`, or
    `{"exponential": {"base": "1s", "min": "500ms", "max": "300s", "jitter": 0.2}}`.
    Raises ValueError with a message naming the bad part.
    """
    raw_attempts = spec.get("maxAttempts", 3)
    if raw_attempts == "unlimited":
        attempts: int | None = None
    elif isinstance(raw_attempts, int) and not isinstance(raw_attempts, bool) and raw_attempts >= 1:
        attempts = raw_attempts
    else:
        raise ValueError(
            f"maxAttempts must be a whole number >= 1 or 'unlimited': {raw_attempts!r}"
        )
    return RetryPolicy(max_attempts=attempts, backoff=_parse_backoff(spec))


def _parse_backoff(spec: Mapping[str, Any]) -> Backoff:
    kinds = [k for k in ("fixed", "exponential", "intervals") if k in spec]
    if len(kinds) > 1:
        raise ValueError(f"give one backoff, not {kinds}")
    if "intervals" in spec:
        return IntervalBackoff(parse_intervals(str(spec["intervals"])))
    if "fixed" in spec:
        return FixedBackoff(parse_duration(spec["fixed"]))
    exp = spec.get("exponential") or {}
    if not isinstance(exp, Mapping):
        raise ValueError("exponential must be a mapping of base, multiplier, min, max, jitter")
    backoff = ExponentialBackoff(
        base=parse_duration(exp.get("base", 1.0)),
        multiplier=float(exp.get("multiplier", 2.0)),
        minimum=parse_duration(exp.get("min", 0.5)),
        maximum=parse_duration(exp.get("max", 300.0)),
        jitter=float(exp.get("jitter", 0.2)),
    )
    if not 0 <= backoff.jitter <= 1:
        raise ValueError(f"jitter must be between 0 and 1: {backoff.jitter}")
    if backoff.minimum > backoff.maximum or backoff.multiplier < 1:
        raise ValueError("need min <= max and multiplier >= 1")
    return backoff
