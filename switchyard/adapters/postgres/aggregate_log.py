"""The events of a set of aggregates, in notification order, read from the event store.

A follower of some aggregates (a plan and its tasks) reads, batch by batch, their
events after a notification id. It can never skip an event: the store inserts
under a table lock held until commit (`adapters.postgres.event_store`), so
notification ids become visible in order, and once the largest id is visible
every smaller one has committed or never will. Each read first takes that largest
id, then the aggregates' events up to it: when fewer than a batch come back,
nothing of theirs below it is left, and the next read starts there rather than at
their last event, so a follower of a quiet plan in a busy store does not scan the
same stretch of other plans' events again. When the store has nothing new, the
read costs one index lookup.

The tasks' statuses come from the scheduler's queue rows, which are written in the
same transaction as each task's events (`adapters.postgres.scheduler_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg import sql
from sqlalchemy import Engine

from switchyard.adapters.postgres.scheduler_tables import TASKS

BATCH = 500
"""How many events one read returns at most."""


@dataclass(frozen=True)
class LogPage:
    """Events of the aggregates after a position, and how far the read looked."""

    events: list[Notification]
    scanned: int
    """The notification id up to which every event of the aggregates is in `events`
    or before them: where the next read starts."""
    full: bool
    """Whether the batch was full, so more may follow at once."""


class AggregateLog:
    """Reads the events of given aggregates from the event store's table, in order."""

    def __init__(self, engine: Engine, schema: str, events_table: str) -> None:
        table = sql.Identifier(schema, events_table)
        self._engine = engine
        self._newest = sql.SQL("SELECT max(notification_id) FROM {}").format(table).as_string()
        self._events = (
            sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state"
                " FROM {} WHERE originator_id = ANY(%s)"
                " AND notification_id > %s AND notification_id <= %s"
                " ORDER BY notification_id LIMIT %s"
            )
            .format(table)
            .as_string()
        )
        self._statuses = (
            sql.SQL("SELECT task_id, status FROM {} WHERE task_id = ANY(%s)")
            .format(sql.Identifier(schema, TASKS))
            .as_string()
        )

    @classmethod
    def of(cls, recorder: object, engine: Engine) -> AggregateLog:
        """The log of the store this recorder writes, read through `engine`."""
        if not isinstance(recorder, PostgresAggregateRecorder):
            raise TypeError("the aggregate log reads a PostgreSQL event store")
        return cls(engine, recorder.datastore.schema or "public", recorder.events_table_name)

    def read(self, aggregate_ids: Sequence[UUID], after: int, limit: int = BATCH) -> LogPage:
        """The next events of these aggregates after notification id `after`."""
        with self._engine.connect() as conn:
            newest = conn.exec_driver_sql(self._newest).scalar()
            if newest is None or newest <= after:
                return LogPage([], after, False)
            rows = (
                conn.exec_driver_sql(self._events, (list(aggregate_ids), after, newest, limit))
                .mappings()
                .all()
            )
        events = [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in rows
        ]
        full = len(events) == limit
        return LogPage(events, events[-1].id if full else newest, full)

    def task_statuses(self, task_ids: Sequence[UUID]) -> dict[UUID, str]:
        """The current status of each of these tasks that the store knows."""
        with self._engine.connect() as conn:
            rows = conn.exec_driver_sql(self._statuses, (list(task_ids),)).all()
        return {row.task_id: row.status for row in rows}
