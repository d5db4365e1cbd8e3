"""One process's metrics: its own registry, and the parts of each role it runs.

A process builds one `ProcessMetrics` (the container does) and each role adds
its part once: the scheduler its meter and the tasks' gauges, the relay its lag,
the projector its lag, the API its request metrics and the fleet's gauges. A
part added twice (`switchyard dev` runs several roles; the API and the scheduler
both give the tasks' gauges) is registered once. No metric is put on
prometheus_client's global registry, so processes and tests never share state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from switchyard.adapters.metrics.collectors import (
    ProjectorLagCollector,
    RelayLagCollector,
    TasksCollector,
)
from switchyard.adapters.metrics.definitions import HttpMetrics, SchedulerMeter
from switchyard.application.app import Switchyard

T = TypeVar("T")


class ProcessMetrics:
    """A process's registry and the role parts registered on it, each at most once."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self._parts: dict[str, object] = {}

    def scheduler(self, store: Engine) -> SchedulerMeter:
        """The scheduler's meter, and the tasks' gauges on the event store's database."""
        self.tasks(store)
        return self._once("scheduler", lambda: SchedulerMeter(self.registry))

    def tasks(self, store: Engine) -> None:
        """Tasks by status, queue depth and heartbeat lag, read from the scheduler's tables."""
        self._collector("tasks", lambda: TasksCollector(store))

    def relay(self, app: Switchyard, store: Engine) -> None:
        """The relay's lag behind the event store."""
        self._collector("relay", lambda: RelayLagCollector(app, store))

    def projector(self, read: Engine, topic: str, store: Engine | None = None) -> None:
        """The projector's lag behind what the relay published on `topic`."""
        self._collector("projector", lambda: ProjectorLagCollector(read, topic, store))

    def http(self) -> HttpMetrics:
        """The API's request counter and latency histogram."""
        return self._once("http", lambda: HttpMetrics(self.registry))

    def exposition(self) -> bytes:
        """Every metric now, in Prometheus's text exposition format."""
        return generate_latest(self.registry)

    def _collector(self, name: str, build: Callable[[], Collector]) -> None:
        def registered() -> Collector:
            collector = build()
            self.registry.register(collector)
            return collector

        self._once(name, registered)

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._parts:
                self._parts[name] = build()
            found: T = self._parts[name]  # type: ignore[assignment]
            return found
