"""A circuit breaker per target (a downstream such as "redis" or "host:port").

    CLOSED ──(N consecutive failures)──▶ OPEN ──(open period over)──▶ HALF_OPEN
      ▲                                   ▲                              │
      └────────(the trial succeeds)───────┼──────────────────────────────┤
                                          └──────(the trial fails)───────┘

While OPEN, `admit` refuses calls with `CircuitOpen` (a StepFailed of type
circuit_open) saying how long until a trial may pass. Once the open period is
over, one call is let through as the trial and the period starts again, so at
most one trial passes per period even if a trial's caller never reports back.
Only failures the decision table marks as `trips_breaker` count; any other
outcome of a call means the downstream answered, and closes the breaker.

One `CircuitBreakers` is shared by all worker threads of a scheduler process;
a lock guards it. Time comes from an injectable monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from switchyard.application.counters import Counts
from switchyard.application.metrics import NO_METER, Meter
from switchyard.application.ports import StepFailed
from switchyard.domain.values import FailureType

log = logging.getLogger(__name__)

FAILURE_THRESHOLD = 5
"""Consecutive failures that open a target's breaker."""

OPEN_SECONDS = 30.0
"""How long an open breaker refuses calls before it lets a trial through."""


class BreakerState(StrEnum):
    """Where a target's breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitOpen(StepFailed):
    """A call refused by an open breaker; `retry_in` seconds until a trial may pass."""

    retry_in: float = 0.0


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False


class CircuitBreakers:
    """One breaker per target, created on first use; `meter` hears each opening."""

    def __init__(
        self,
        failure_threshold: int = FAILURE_THRESHOLD,
        open_seconds: float = OPEN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        meter: Meter = NO_METER,
    ) -> None:
        if failure_threshold < 1 or open_seconds <= 0:
            raise ValueError("need failure_threshold >= 1 and open_seconds > 0")
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.opens = Counts()
        self._clock = clock
        self._meter = meter
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def admit(self, target: str) -> None:
        """Let a call to `target` through, or raise CircuitOpen while its breaker is open."""
        with self._lock:
            circuit = self._circuits.setdefault(target, _Circuit())
            if circuit.opened_at is None:
                return
            now = self._clock()
            wait = circuit.opened_at + self.open_seconds - now
            if wait <= 0:
                circuit.opened_at, circuit.trial = now, True
                return
        raise CircuitOpen(
            FailureType.CIRCUIT_OPEN,
            f"{target}: circuit open",
            target=target,
            details={"retryInSeconds": round(wait, 3)},
            retry_in=wait,
        )

    def succeeded(self, target: str) -> None:
        """A call to `target` got an answer: close its breaker."""
        with self._lock:
            circuit = self._circuits.setdefault(target, _Circuit())
            if circuit.opened_at is not None:
                log.info("circuit of %s closed", target)
            circuit.failures, circuit.opened_at, circuit.trial = 0, None, False

    def failed(self, target: str) -> None:
        """A call to `target` failed in a way that says it is unwell; maybe open its breaker."""
        with self._lock:
            circuit = self._circuits.setdefault(target, _Circuit())
            if circuit.opened_at is not None and not circuit.trial:
                return  # a call let through before the breaker opened: already counted as open
            circuit.failures += 1
            if circuit.trial or circuit.failures >= self.failure_threshold:
                circuit.opened_at, circuit.trial = self._clock(), False
                self.opens.increment(target)
                self._meter.breaker_opened(target)
                log.warning("circuit of %s opened after %d failures", target, circuit.failures)

    def state(self, target: str) -> BreakerState:
        """The target's breaker state (CLOSED for a target never seen)."""
        with self._lock:
            circuit = self._circuits.get(target, _Circuit())
            if circuit.opened_at is None:
                return BreakerState.CLOSED
            if circuit.trial or self._clock() >= circuit.opened_at + self.open_seconds:
                return BreakerState.HALF_OPEN
            return BreakerState.OPEN
