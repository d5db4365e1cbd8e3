"""Ports the scheduler's use cases need: leases, step executors and a clock.

Adapters implement them (PostgreSQL leases, Redis and HTTP step executors);
tests may give fakes. Each method's docstring is its contract.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from switchyard.domain.values import FailureType, StepDefinition


@dataclass(frozen=True)
class Claim:
    """A task a worker may now work on, under this fencing token."""

    task_id: UUID
    fence: int
    takeover: bool


@dataclass(frozen=True)
class Progress:
    """What a heartbeat reports: the stage running and how many are done."""

    current_stage: str | None
    completed_stages: int
    total_stages: int


class Leases(Protocol):
    """Who works on which task, until when, under which fence (decided by the database)."""

    def claim(self, owner: str, ttl_seconds: float) -> Claim | None:
        """Take the next runnable task, or None if there is none now.

        Honours each plan's max concurrency, FIFO order (plans in creation order,
        tasks in position order) and one active task per tenant across all plans.
        A task whose lease expired is offered first, as a takeover. Every claim
        gets a fence higher than any before it.
        """
        ...

    def claim_many(self, owner: str, ttl_seconds: float, limit: int) -> list[Claim]:
        """Take up to `limit` runnable tasks at once: those `claim` would take, called
        `limit` times, in that order (fewer if fewer may run now)."""
        ...

    def renew(self, claim: Claim, owner: str, ttl_seconds: float, progress: Progress) -> bool:
        """Extend the lease and store the progress; False if the lease was lost."""
        ...

    def release(self, claim: Claim, owner: str) -> None:
        """Give the task back (no-op if the lease is no longer ours)."""
        ...

    def wait_for_work(self, timeout_seconds: float) -> None:
        """Block until something may have become runnable, or the timeout passes."""
        ...

    def close(self) -> None:
        """Let go of any connection held for waiting."""
        ...


@dataclass(frozen=True)
class StepContext:
    """Who a step runs for (the task's ids, tenant and target version), and until when."""

    task_id: UUID
    plan_id: UUID
    tenant_id: str
    target_version: str
    fence: int
    deadline: float | None = None
    """When the stage's timeout passes, on `clock` (None: no timeout); set by the runner."""
    clock: Callable[[], float] = time.monotonic

    def seconds_left(self) -> float | None:
        """Seconds before the stage's timeout (0 once past it), or None without one.

        A step that waits or polls must not wait past it: it fails with a
        `timeout` instead, as the stage does.
        """
        if self.deadline is None:
            return None
        return max(self.deadline - self.clock(), 0.0)


@dataclass
class StepFailed(Exception):
    """A step could not do its work; `type` says how to treat it."""

    type: FailureType
    message: str
    target: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


class StageAbandoned(Exception):
    """The scheduler is stopping and cut a wait inside a stage short.

    Nothing is recorded: the worker lets go of the task, and whoever takes it
    over runs the interrupted stage again from its start.
    """


def stop_aware_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A sleep for stages and steps: waits, but raises StageAbandoned once `stop` is set."""

    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise StageAbandoned

    return sleep


class StepExecutor(Protocol):
    """Runs one kind of step (e.g. `redis-write`) and undoes it from what it recorded."""

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Do the step; return JSON data its undo needs. Raise StepFailed on failure.

        Must be idempotent: after a crash the whole stage runs again.
        """
        ...

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Undo the step from what `run` returned. Raise StepFailed on failure."""
        ...


class Clock(Protocol):
    """The time, for business times recorded in events."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...
