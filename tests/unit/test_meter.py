"""The scheduler's metrics as the stage runner, breakers and notifier record them on a
process's own registry: stage durations by stage and outcome, retries by step kind and
failure, breaker opens by target, suppressed notifications by type."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from switchyard.adapters.metrics.definitions import SchedulerMeter
from switchyard.adapters.metrics.registries import ProcessMetrics
from switchyard.adapters.scheduler.notifiers import RateLimitedNotifier
from switchyard.application.breakers import CircuitBreakers
from switchyard.application.notifications import Notification, NotificationType, Severity
from switchyard.application.ports import StepContext, StepFailed
from switchyard.application.stages import StageRunner
from switchyard.domain.values import FailureType, StageDefinition, StepDefinition
from tests.support.clock import FakeClock

CONTEXT = StepContext(uuid.uuid4(), uuid.uuid4(), "acme", "2", fence=1)


@dataclass
class Flaky:
    """A step executor at the boundary: fails with `failure` `failing` times, then works,
    each call taking `seconds` on the clock."""

    clock: FakeClock
    failing: int
    seconds: float = 2.0
    failure: FailureType = FailureType.IO

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Take the time; fail while failures are left."""
        self.clock.now += self.seconds
        if self.failing > 0:
            self.failing -= 1
            raise StepFailed(self.failure, "not yet")
        return {}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Like `run`."""
        self.run(step, context)


def drain(attempts: int) -> StageDefinition:
    """A stage of one flaky step, retried up to `attempts` times 1 s apart."""
    retry = {"maxAttempts": attempts, "fixed": "1s"}
    return StageDefinition("Drain", (StepDefinition("flaky", {"retry": retry}),))


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A sample's value (0 if it was never recorded)."""
    return registry.get_sample_value(name, labels) or 0.0


def metered(flaky: Flaky, clock: FakeClock) -> tuple[StageRunner, CollectorRegistry]:
    """A stage runner on the fake clock whose meter records on a fresh registry."""
    registry = CollectorRegistry()
    runner = StageRunner(
        {"flaky": flaky}, sleep=clock.sleep, monotonic=clock, meter=SchedulerMeter(registry)
    )
    return runner, registry


def test_a_completed_stage_is_timed_and_its_retries_counted() -> None:
    clock = FakeClock()
    runner, registry = metered(Flaky(clock, failing=2), clock)
    run = runner.run(drain(attempts=3), CONTEXT)
    assert run.failure is None
    labels = {"stage": "Drain", "outcome": "completed"}
    assert sample(registry, "switchyard_stage_duration_seconds_count", **labels) == 1
    assert sample(registry, "switchyard_stage_duration_seconds_sum", **labels) == 8.0  # 3x2 + 2x1
    retries = sample(registry, "switchyard_step_retries_total", step="flaky", failure="io")
    assert retries == 2


def test_a_failed_stage_and_its_undo_are_timed_under_their_outcomes() -> None:
    clock = FakeClock()
    runner, registry = metered(Flaky(clock, failing=5, failure=FailureType.FATAL), clock)
    run = runner.run(drain(attempts=3), CONTEXT)
    assert run.failure is not None
    failed = {"stage": "Drain", "outcome": "failed"}
    assert sample(registry, "switchyard_stage_duration_seconds_count", **failed) == 1
    assert sample(registry, "switchyard_step_retries_total", step="flaky", failure="fatal") == 0
    runner.undo(drain(attempts=1), {"steps": [{}]}, CONTEXT)
    undone = {"stage": "Drain", "outcome": "rollback_failed"}
    assert sample(registry, "switchyard_stage_duration_seconds_count", **undone) == 1


def test_breaker_opens_are_counted_by_target() -> None:
    registry = CollectorRegistry()
    breakers = CircuitBreakers(2, 30.0, clock=FakeClock(), meter=SchedulerMeter(registry))
    for _ in range(2):
        breakers.failed("redis")
    assert sample(registry, "switchyard_circuit_breaker_opens_total", target="redis") == 1


class Silent:
    """A notifier that delivers nowhere."""

    def notify(self, notification: Notification) -> None:
        """Deliver nothing."""


def test_suppressed_notifications_are_counted_by_type() -> None:
    registry = CollectorRegistry()
    limited = RateLimitedNotifier(
        Silent(), 1, 60.0, clock=FakeClock(), meter=SchedulerMeter(registry)
    )
    notice = Notification(
        NotificationType.TAKEOVER,
        Severity.WARNING,
        uuid.uuid4(),
        uuid.uuid4(),
        "acme",
        None,
        None,
        "taken over",
        datetime.now(UTC),
    )
    for _ in range(3):
        limited.notify(notice)
    assert sample(registry, "switchyard_notifications_suppressed_total", type="TAKEOVER") == 2


def test_a_process_registers_each_roles_metrics_once() -> None:
    metrics = ProcessMetrics()
    assert metrics.http() is metrics.http()
    assert b"switchyard_http_requests" in metrics.exposition()
    assert ProcessMetrics().registry is not metrics.registry
