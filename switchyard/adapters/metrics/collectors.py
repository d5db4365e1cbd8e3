"""Metrics computed from PostgreSQL at scrape time: nothing of them is kept in memory.

Each collector reads what the database holds when Prometheus asks, so every
process of every role reports the same truth, and a restarted one loses nothing:

- tasks by status, the queue's depth and the heartbeat lag, from the scheduler's
  tables (`switchyard_queue_tasks`, written with the events; no Kafka involved);
- the relay's lag, from the event store's log against the relay's position;
- the projector's lag, from `adapters.postgres.freshness.projector_status`.

A scrape while the database is down leaves these series out (logged) rather than
failing the scrape: the metrics recorded in memory still come through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import PersistenceError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from switchyard.adapters.postgres.freshness import projector_status
from switchyard.adapters.postgres.tables import queue_tasks, relay_position
from switchyard.application.app import Switchyard
from switchyard.domain.status import TaskStatus

log = logging.getLogger(__name__)

S = TaskStatus

STATUS_LABELS: dict[TaskStatus, str] = {
    S.CREATED: "active",
    S.QUEUED: "active",
    S.RUNNING: "active",
    S.ROLLING_BACK: "active",
    S.PAUSED: "paused",
    S.COMPLETED: "completed",
    S.FAILED: "failed",
    S.ROLLBACK_FAILED: "failed",
    S.CANCELLED: "cancelled",
    S.ROLLED_BACK: "rolled_back",
}
"""The `status` label of each task status: active is everything not yet settled."""


def _now() -> datetime:
    return datetime.now(UTC)


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class TasksCollector(Collector):
    """Tasks by status, the queue's depth and the heartbeat lag, from the scheduler's tables."""

    def __init__(self, store: Engine) -> None:
        self._store = store

    def describe(self) -> list[Metric]:
        """The metrics this collector gives (without samples)."""
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        """Read the scheduler's tables and give the three gauges."""
        tasks, depth, heartbeat = self._families()
        try:
            counts, waiting, oldest = self._read()
        except SQLAlchemyError as exc:
            log.warning("metrics: could not read the scheduler's tables (%s)", type(exc).__name__)
            return
        by_label = dict.fromkeys(sorted(set(STATUS_LABELS.values())), 0)
        for status, count in counts:
            by_label[STATUS_LABELS[TaskStatus(status)]] += count
        for label, count in by_label.items():
            tasks.add_metric([label], count)
        depth.add_metric([], waiting)
        heartbeat.add_metric([], oldest)
        yield from (tasks, depth, heartbeat)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            _gauge("switchyard_tasks", "Tasks by status (active: not settled yet).", ["status"]),
            _gauge("switchyard_queue_depth", "Tasks that need a worker and hold no lease."),
            _gauge(
                "switchyard_heartbeat_lag_seconds",
                "Seconds since the oldest live lease's last heartbeat (0 with none).",
            ),
        )

    def _read(self) -> tuple[list[tuple[str, int]], int, float]:
        t = queue_tasks.c
        live = (t.lease_owner.is_not(None)) & (t.lease_expires >= func.now())
        with self._store.connect() as conn:
            counts = conn.execute(select(t.status, func.count()).group_by(t.status)).all()
            waiting = conn.execute(
                select(func.count()).where(t.needs_worker, t.lease_owner.is_(None))
            ).scalar()
            oldest = conn.execute(
                select(func.extract("epoch", func.now() - func.min(t.heartbeat_at))).where(live)
            ).scalar()
        return [(row[0], int(row[1])) for row in counts], int(waiting or 0), float(oldest or 0)


class RelayLagCollector(Collector):
    """How far the relay is behind the event store: in sequences and in seconds."""

    def __init__(self, app: Switchyard, store: Engine) -> None:
        self._app = app
        self._store = store

    def describe(self) -> list[Metric]:
        """The metrics this collector gives (without samples)."""
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        """Compare the log's last sequence with the relay's position; age the first unsent."""
        sequences, seconds = self._families()
        try:
            with self._store.connect() as conn:
                position = int(conn.execute(select(relay_position.c.position)).scalar() or 0)
            newest = self._app.recorder.max_notification_id() or 0
            first = self._app.recorder.select_notifications(position, 1, inclusive_of_start=False)
        except (SQLAlchemyError, PersistenceError) as exc:
            log.warning("metrics: could not read the relay's lag (%s)", type(exc).__name__)
            return
        age = 0.0
        if first:
            event = self._app.mapper.to_domain_event(first[0])
            recorded: datetime = event.timestamp if isinstance(event, DomainEvent) else _now()
            age = max(0.0, (_now() - recorded).total_seconds())
        sequences.add_metric([], max(0, newest - position))
        seconds.add_metric([], age)
        yield from (sequences, seconds)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            _gauge(
                "switchyard_relay_lag_sequences",
                "Events stored but not yet published (the log's last sequence minus the relay's).",
            ),
            _gauge(
                "switchyard_relay_lag_seconds",
                "Age of the oldest event not yet published (0 when caught up).",
            ),
        )


class ProjectorLagCollector(Collector):
    """How far the projector is behind what the relay published: in events and seconds."""

    def __init__(self, read: Engine, topic: str, store: Engine | None = None) -> None:
        self._read = read
        self._topic = topic
        self._store = store

    def describe(self) -> list[Metric]:
        """The metrics this collector gives (without samples)."""
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        """The projector's status on the topic, summed over its partitions."""
        events, seconds = self._families()
        try:
            with self._read.connect() as conn:
                if self._store is None:
                    status = projector_status(conn, self._topic)
                else:
                    with self._store.connect() as on_store:
                        status = projector_status(conn, self._topic, on_store)
        except SQLAlchemyError as exc:
            log.warning("metrics: could not read the projector's lag (%s)", type(exc).__name__)
            return
        events.add_metric([], status.lag_events)
        yield events
        if status.lag_seconds is not None:  # unknown until the projector applied a batch
            seconds.add_metric([], status.lag_seconds)
            yield seconds

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            _gauge(
                "switchyard_projector_lag_events",
                "Messages the relay published that the projector has not applied yet.",
            ),
            _gauge(
                "switchyard_projector_lag_seconds",
                "The largest event-time gap of a partition between published and applied.",
            ),
        )
