"""The Meter port: what the scheduler's use cases report as they work, for metrics.

The stage runner reports each stage it ran or undid (its duration and outcome)
and each step it tries again; the breakers each time one opens; the worker each
takeover; the rate-limited notifier each notification it drops. An adapter turns
these into Prometheus metrics (`adapters.metrics`); without one, `NO_METER`
drops them. A meter must be cheap and must never raise: it is called on the
workers' threads, in the middle of the work.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from switchyard.domain.values import FailureType


class StageOutcome(StrEnum):
    """How a stage run or undo ended, as metrics label it."""

    COMPLETED = "completed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"


class Meter(Protocol):
    """Receives what the scheduler does, to count and time it (thread-safe, never raises)."""

    def stage_ended(self, stage: str, outcome: StageOutcome, seconds: float) -> None:
        """A stage named `stage` ran (or was undone) for `seconds` and ended so."""
        ...

    def step_retried(self, step_kind: str, failure: FailureType) -> None:
        """A step of this kind failed with `failure` and will be tried again."""
        ...

    def breaker_opened(self, target: str) -> None:
        """The circuit breaker of `target` opened (or opened again after a failed trial)."""
        ...

    def task_taken_over(self) -> None:
        """A worker took a task over from one whose lease expired."""
        ...

    def notification_suppressed(self, kind: str) -> None:
        """A notification of this type was dropped by a rate limit."""
        ...


class _NoMeter:
    """A meter that records nothing (no metrics adapter is wired in)."""

    def stage_ended(self, stage: str, outcome: StageOutcome, seconds: float) -> None:
        """Record nothing."""

    def step_retried(self, step_kind: str, failure: FailureType) -> None:
        """Record nothing."""

    def breaker_opened(self, target: str) -> None:
        """Record nothing."""

    def task_taken_over(self) -> None:
        """Record nothing."""

    def notification_suppressed(self, kind: str) -> None:
        """Record nothing."""


NO_METER: Meter = _NoMeter()
"""The meter used when none is given: records nothing."""
