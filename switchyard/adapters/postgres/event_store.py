"""The PostgreSQL application recorder switchyard uses: the library's, with these changes.

1. No pipeline mode. The library inserts a save's events in a psycopg pipeline;
   with a large save (a plan of a few hundred tenants is one save of about a
   megabyte) the pipeline can deadlock: the client waits in `sync()` while the
   server waits for input. This recorder runs the very same statements (table
   lock, NOTIFY, one INSERT of all the events, RETURNING their notification
   ids) in one ordinary transaction.
2. The scheduler's tables (`adapters.postgres.scheduler_tables`) are written in that
   same transaction, from the scheduling rows each save carries, so they can
   never disagree with the events.
3. It is a `GuardedStore`: a save's `WriteGuards` are checked in the
   transaction of the insert. A worker's claim (`fence`) must still hold the
   task's lease, checked under a row lock (else StaleFence); the tasks an
   operator restarts (`not_superseded`) must have no newer task of their tenant
   claimed, checked under the claims' advisory lock so it cannot race a claim
   (else TaskSuperseded).
4. Creating the tables creates the library's events table, then runs switchyard's
   migrations (`adapters.postgres.migrate`), which own every other table. Neither
   takes a table lock on a database that is up to date: DDL such as
   `CREATE INDEX IF NOT EXISTS` locks its table even when the index exists, and
   deadlocked a running worker's save when a CLI command started.
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
from switchyard.adapters.postgres.migrate import datastore_params, migrate
from switchyard.adapters.postgres.plan_writer import insert_in_chunks, select_events_of
from switchyard.application.guards import WriteGuards
from switchyard.application.plan_recording import StoreChunks
from switchyard.application.scheduling import PlanRow, TaskRow
from switchyard.domain.errors import StaleFence, TaskSuperseded


class TransactionalRecorder(PostgresApplicationRecorder):
    """Inserts each save's events and scheduling rows in one plain transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = self.datastore.schema or "public"
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

    def create_table(self) -> None:
        """Create the library's events table, then migrate switchyard's tables."""
        super().create_table()
        migrate(datastore_params(self.datastore), self.datastore.schema or "public")

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # The library's statements end with CREATE INDEX IF NOT EXISTS on the events
        # table, which locks it even when the index exists: skip them once they ran
        # (they run in one transaction, so the index means all of them did).
        schema = self.datastore.schema or "public"
        curs.execute(
            "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) AS found",
            (schema, self.notification_id_index_name),
        )
        row = curs.fetchone()
        if row is None or row["found"] is None:
            super()._create_table(curs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        guards: WriteGuards | None = None,
        scheduling: Sequence[PlanRow | TaskRow] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Insert the events atomically, in order, if the guards hold; their notification ids."""
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            # The claims' advisory lock first (only a retry or rollback takes it), then
            # row locks (the fence, then the queue rows in task-id order), the events
            # table lock last: every writer takes its locks in this order, so none can
            # deadlock, and the serialised part is the insert alone.
            guards = guards or WriteGuards()
            self._check_not_superseded(curs, guards.not_superseded)
            if guards.fence is not None:
                self._check_fence(curs, guards.fence.task_id, guards.fence.fence)
            self._write_scheduling(curs, scheduling)
            self._notify_channel(curs)
            self._lock_table(curs)
            PostgresAggregateRecorder._insert_stored_events(self, curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify)

    def checks_guards(self) -> bool:
        """Say that this store checks write guards (see the module docstring)."""
        return True

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

    def insert_in_chunks(self, chunks: StoreChunks) -> int:
        """Write a plan's chunks in one transaction (see `adapters.postgres.plan_writer`)."""
        return insert_in_chunks(self, chunks)

    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        """Every event of the given aggregates, each aggregate's in version order."""
        return select_events_of(self, originator_ids)


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
