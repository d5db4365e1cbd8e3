"""The PostgreSQL application recorder switchyard uses: the library's, with three changes.

1. No pipeline mode. The library inserts a save's events in a psycopg pipeline;
   with a large save (a plan of a few hundred tenants is one save of about a
   megabyte) the pipeline can deadlock: the client waits in `sync()` while the
   server waits for input. This recorder runs the very same statements (table
   lock, NOTIFY, one INSERT of all the events, RETURNING their notification
   ids) in one ordinary transaction.
2. The scheduler's tables (`adapters.postgres.scheduler_tables`) are written in that
   same transaction, from the scheduling rows each save carries, so they can
   never disagree with the events.
3. A worker's save names its claim (`fenced=(task_id, fence)`); the write is
   refused (StaleFence) unless that fence still holds the task's lease, checked
   under a row lock in the same transaction as the insert.
4. An operator's retry or rollback names the tasks it restarts
   (`not_superseded=(task_id, ...)`); under the claims' advisory lock, the write
   is refused (TaskSuperseded) if a scheduler has claimed a newer task of the
   same tenant, so the check cannot race a claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor, sql
from psycopg.rows import DictRow

from switchyard.adapters.postgres import scheduler_tables
from switchyard.adapters.postgres.scheduler_tables import LAST_CREATED
from switchyard.application.scheduling import PlanRow, TaskRow
from switchyard.domain.errors import StaleFence, TaskSuperseded


class TransactionalRecorder(PostgresApplicationRecorder):
    """Inserts each save's events and scheduling rows in one plain transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = self.datastore.schema or "public"
        self.sql_create_statements.extend(scheduler_tables.create_statements(schema))
        self._upsert_plans = scheduler_tables.prepared(scheduler_tables.UPSERT_PLANS, schema)
        self._upsert_tasks = scheduler_tables.prepared(scheduler_tables.UPSERT_TASKS, schema)
        self._select_fence = scheduler_tables.prepared(scheduler_tables.SELECT_FENCE, schema)
        self._select_superseding = scheduler_tables.prepared(
            scheduler_tables.SELECT_SUPERSEDING, schema
        )
        self.insert_events_statement = sql.Composed(
            [scheduler_tables.rendered(self.insert_events_statement)]
        )
        self.lock_table_statements = [
            scheduler_tables.rendered(s) if isinstance(s, sql.Composable) else s
            for s in self.lock_table_statements
        ]
        self._notify = scheduler_tables.rendered(
            sql.SQL("NOTIFY {}").format(sql.Identifier(self.channel_name))
        )

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # CREATE INDEX IF NOT EXISTS locks its table even when the index exists, which
        # can deadlock with a running worker's save: skip the DDL once it all ran.
        schema = self.datastore.schema or "public"
        curs.execute("SELECT to_regclass(%s) AS found", (f"{schema}.{LAST_CREATED}",))
        row = curs.fetchone()
        if row is None or row["found"] is None:
            super()._create_table(curs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events atomically, in order; return their notification ids."""
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            # The claims' advisory lock first (only a retry or rollback takes it), then
            # row locks (the fence, then the queue rows in task-id order), the events
            # table lock last: every writer takes its locks in this order, so none can
            # deadlock, and the serialised part is the insert alone.
            self._check_not_superseded(curs, kwargs.get("not_superseded", ()))
            fenced = kwargs.get("fenced")
            if fenced is not None:
                self._check_fence(curs, *fenced)
            self._write_scheduling(curs, kwargs.get("scheduling", ()))
            self._notify_channel(curs)
            self._lock_table(curs)
            PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify)

    def _check_not_superseded(self, curs: Cursor[DictRow], task_ids: Sequence[UUID]) -> None:
        if not task_ids:
            return
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (scheduler_tables.CLAIM_LOCK,))
        curs.execute(self._select_superseding, (list(task_ids),))
        row = curs.fetchone()
        if row is not None:
            raise TaskSuperseded(
                task_id=str(row["task_id"]),
                newer_task_id=str(row["newer_task_id"]),
                newer_plan_id=str(row["newer_plan_id"]),
            )

    def _check_fence(self, curs: Cursor[DictRow], task_id: UUID, fence: int) -> None:
        # Lock the lease row: a claim by another worker either committed (and we
        # see its higher fence) or waits until this write has committed.
        curs.execute(self._select_fence, (task_id,))
        row = curs.fetchone()
        current = None if row is None else row["fence"]
        if current != fence:
            raise StaleFence(task_id=str(task_id), fence=fence, current_fence=current)

    def _write_scheduling(self, curs: Cursor[DictRow], rows: Sequence[PlanRow | TaskRow]) -> None:
        plans = [r for r in rows if isinstance(r, PlanRow)]
        tasks = sorted((r for r in rows if isinstance(r, TaskRow)), key=lambda r: r.task_id)
        if plans:
            curs.execute(
                self._upsert_plans,
                ([p.plan_id for p in plans], [p.max_concurrency for p in plans]),
            )
        if tasks:
            curs.execute(self._upsert_tasks, _task_columns(tasks))


def _task_columns(tasks: Sequence[TaskRow]) -> tuple[list[Any], ...]:
    return (
        [t.task_id for t in tasks],
        [t.plan_id for t in tasks],
        [t.tenant_id for t in tasks],
        [t.position for t in tasks],
        [str(t.status) for t in tasks],
        [t.version for t in tasks],
        [t.needs_worker for t in tasks],
        [t.total_stages for t in tasks],
    )


RECORDER_TOPIC = f"{__name__}:{TransactionalRecorder.__name__}"
"""The topic that tells the library to use this recorder."""
