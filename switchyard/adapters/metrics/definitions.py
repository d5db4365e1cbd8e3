"""The metrics recorded as things happen: the scheduler's (the `Meter` port) and the API's.

Each is defined on the registry it is given, never on prometheus_client's global
one, so two processes' metrics (or two tests') never mix. What is computed from
the database at scrape time lives in `adapters.metrics.collectors`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from switchyard.application.metrics import StageOutcome
from switchyard.domain.values import FailureType

STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Stage durations in seconds: a no-op stage to a long health check."""

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""API request durations in seconds (prometheus_client's defaults, to 10 s)."""


class SchedulerMeter:
    """The `Meter` port on Prometheus metrics: stage durations and the scheduler's counters."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.stage_seconds = Histogram(
            "switchyard_stage_duration_seconds",
            "How long a stage ran (or its undo took), by stage name and outcome.",
            ["stage", "outcome"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "switchyard_step_retries",
            "Steps tried again after a failure, by step kind and failure type.",
            ["step", "failure"],
            registry=registry,
        )
        self.breaker_opens = Counter(
            "switchyard_circuit_breaker_opens",
            "Times a target's circuit breaker opened.",
            ["target"],
            registry=registry,
        )
        self.takeovers = Counter(
            "switchyard_task_takeovers",
            "Tasks taken over from a worker whose lease expired.",
            registry=registry,
        )
        self.suppressed = Counter(
            "switchyard_notifications_suppressed",
            "Notifications dropped by the rate limit, by notification type.",
            ["type"],
            registry=registry,
        )

    def stage_ended(self, stage: str, outcome: StageOutcome, seconds: float) -> None:
        """Observe the stage's duration under its name and outcome."""
        self.stage_seconds.labels(stage, str(outcome)).observe(seconds)

    def step_retried(self, step_kind: str, failure: FailureType) -> None:
        """Count a retry of a step of this kind."""
        self.retries.labels(step_kind, str(failure)).inc()

    def breaker_opened(self, target: str) -> None:
        """Count an opening of the target's breaker."""
        self.breaker_opens.labels(target).inc()

    def task_taken_over(self) -> None:
        """Count a takeover."""
        self.takeovers.inc()

    def notification_suppressed(self, kind: str) -> None:
        """Count a dropped notification of this type."""
        self.suppressed.labels(kind).inc()


class HttpMetrics:
    """The API's requests: a counter and a latency histogram by method, route and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "switchyard_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "switchyard_http_request_duration_seconds",
            "How long the API took to answer, by method, route template and status.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.seconds.labels(*labels).observe(seconds)
