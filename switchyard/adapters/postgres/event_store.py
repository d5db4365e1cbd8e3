"""The PostgreSQL application recorder switchyard uses: the library's, with these changes.

1. Pipeline mode only for small groups. The library inserts a save's events in
   a psycopg pipeline; with a large save (a plan of a few hundred tenants is one
   save of about a megabyte) the pipeline can deadlock: the client waits in
   `sync()` while the server waits for input. This recorder pipelines a group
   only while its events take at most `PIPELINED_BYTES` (then everything from
   the scheduling rows to the COMMIT is one round trip); a larger one runs the
   very same statements (table lock, NOTIFY, one INSERT of all the events,
   RETURNING their notification ids) one by one in an ordinary transaction.
2. The scheduler's tables (`adapters.postgres.scheduler_tables`) are written in that
   same transaction, from the scheduling rows each save carries, so they can
   never disagree with the events.
3. It is a `GuardedStore`: a save's `WriteGuards` are checked in the
   transaction of the insert. A worker's claim (`fence`) must still hold the
   task's lease, checked under a row lock (else StaleFence); the tasks an
   operator restarts (`not_superseded`) must have no newer task of their tenant
   claimed, checked under the claims' advisory lock so it cannot race a claim
   (else TaskSuperseded).
4. Group commit (`adapters.postgres.group_commit`): a process's concurrent saves
   are written together, one transaction per group: every guard check and
   scheduling row first (the rows locked in task-id order), then one NOTIFY, one
   table lock and one INSERT of all the group's events, so notification ids
   still follow commit order. A save whose guard fails is left out and gets its
   own error; if the INSERT meets an optimistic-concurrency conflict, the group
   is rolled back, the saves whose versions were recorded meanwhile fail (with
   the library's `IntegrityError`, as before), and the rest is written again.
5. Creating the tables creates the library's events table, then runs switchyard's
   migrations (`adapters.postgres.migrate`), which own every other table. Neither
   takes a table lock on a database that is up to date: DDL such as
   `CREATE INDEX IF NOT EXISTS` locks its table even when the index exists, and
   deadlocked a running worker's save when a CLI command started.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import Cursor, sql
from psycopg.rows import DictRow

from switchyard.adapters.postgres import scheduler_tables
from switchyard.adapters.postgres.group_commit import GroupCommit, PendingSave
from switchyard.adapters.postgres.group_guards import GroupGuards
from switchyard.adapters.postgres.migrate import datastore_params, migrate
from switchyard.adapters.postgres.plan_writer import insert_in_chunks, select_events_of
from switchyard.application.guards import WriteGuards
from switchyard.application.plan_recording import StoreChunks
from switchyard.application.scheduling import PlanRow, TaskRow

PIPELINED_BYTES = 256 * 1024
"""A group whose events take more is written statement by statement, not pipelined (1.)."""


_SELECT_RECORDED = """
SELECT e.originator_id, e.originator_version FROM {schema}.{table} e
JOIN unnest(%s::uuid[], %s::bigint[]) AS k(id, version)
  ON e.originator_id = k.id AND e.originator_version = k.version
"""
"""Which of the given (aggregate, version) pairs are recorded."""


class TransactionalRecorder(PostgresApplicationRecorder):
    """Inserts each save's events and scheduling rows in one plain transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = self.datastore.schema or "public"
        self._upsert_plans = scheduler_tables.prepared(scheduler_tables.UPSERT_PLANS, schema)
        self._upsert_tasks = scheduler_tables.prepared(scheduler_tables.UPSERT_TASKS, schema)
        self._guards = GroupGuards(schema)
        self._select_recorded = (
            sql.SQL(_SELECT_RECORDED)
            .format(schema=sql.Identifier(schema), table=sql.Identifier(self.events_table_name))
            .as_string(None)
        )
        self.insert_events_statement = sql.Composed(
            [scheduler_tables.rendered(self.insert_events_statement)]
        )
        notify = sql.SQL("NOTIFY {}").format(sql.Identifier(self.channel_name))
        self._notify_and_lock = [
            scheduler_tables.rendered(s) if isinstance(s, sql.Composable) else s
            for s in (notify, *self.lock_table_statements)
        ]
        self.group_commit = GroupCommit(self._write_group)
        # A plan's writer holds a connection while its chunks are built, and building one
        # reads its tenants' task lists on a second: with every connection held by a
        # writer waiting for its second, all would wait for ever. So at most half the
        # pool writes plans; a writer beyond waits for one to finish.
        self._plan_writers = threading.BoundedSemaphore(max(1, self.datastore.pool.max_size // 2))

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

    def configure_group_commit(self, window_ms: float, max_saves: int) -> None:
        """How long a group's leader waits for company, and how many saves a group takes."""
        self.group_commit.window_seconds = window_ms / 1000
        self.group_commit.max_saves = max_saves

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        guards: WriteGuards | None = None,
        scheduling: Sequence[PlanRow | TaskRow] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Insert the events atomically, in order, if the guards hold; their notification ids.

        The save is written in a group with the process's concurrent saves (see
        `group_commit`); it fails alone, with its own error, if a guard or its
        optimistic-concurrency check fails.
        """
        if not stored_events:
            return []
        pending = PendingSave(stored_events, guards or WriteGuards(), scheduling)
        return self.group_commit.save(pending)

    def checks_guards(self) -> bool:
        """Say that this store checks write guards (see the module docstring)."""
        return True

    def _write_group(self, group: list[PendingSave]) -> None:
        try:
            self._write_together(group)
        except IntegrityError as conflict:
            if len(group) == 1:
                group[0].refuse(conflict)
                return
            lost = self._lost_races(group)
            for pending in lost:
                pending.refuse(conflict)
            if lost:  # the rest, still together
                rest = [p for p in group if not p.decided]
                if rest:
                    self._write_group(rest)
                return
            for pending in group:  # no recorded version explains it: each alone tells
                if not pending.decided:
                    self._write_group([pending])
        except Exception as failure:
            for pending in group:
                if not pending.decided:
                    pending.refuse(failure)

    def _lost_races(self, group: list[PendingSave]) -> list[PendingSave]:
        """The saves some of whose events' versions were recorded meanwhile."""
        pairs = [(e.originator_id, e.originator_version) for p in group for e in p.events]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_recorded, ([i for i, _ in pairs], [v for _, v in pairs]))
            recorded = {(row["originator_id"], row["originator_version"]) for row in curs}
        return [
            p
            for p in group
            if any((e.originator_id, e.originator_version) in recorded for e in p.events)
        ]

    def _write_together(self, group: list[PendingSave]) -> None:
        pipelined = sum(len(e.state) for p in group for e in p.events) <= PIPELINED_BYTES
        with ExitStack() as stack:
            conn = stack.enter_context(self.datastore.get_connection())
            curs = stack.enter_context(conn.cursor())
            pipeline = stack.enter_context(conn.pipeline()) if pipelined else None
            with conn.transaction():
                # The claims' advisory lock, then row locks (`group_guards`), the events
                # table lock last: every writer takes its locks in this order, so none
                # can deadlock, and the serialised part is the insert alone.
                admitted = self._guards.admit(curs, group)
                if not admitted:
                    return
                self._write_scheduling(curs, [row for p in admitted for row in p.scheduling])
                for statement in self._notify_and_lock:
                    curs.execute(statement)
                events = [event for p in admitted for event in p.events]
                PostgresAggregateRecorder._insert_stored_events(self, curs, events)
            if pipeline is not None:  # one round trip from the scheduling rows to the COMMIT
                pipeline.sync()
            ids = list(self._fetch_ids_after_insert_events(curs, events) or ())
        for pending in admitted:  # committed: each save's share of the ids, in order
            pending.ids, ids = ids[: len(pending.events)], ids[len(pending.events) :]

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
        """Write a plan's chunks in one transaction (see `adapters.postgres.plan_writer`),
        once fewer than half the pool's connections are writing plans."""
        with self._plan_writers:
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
