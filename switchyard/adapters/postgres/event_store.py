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
   is rolled back and each of its saves written alone, so only the conflicting
   one fails (with the library's `IntegrityError`, as before).
5. Creating the tables creates the library's events table, then runs switchyard's
   migrations (`adapters.postgres.migrate`), which own every other table. Neither
   takes a table lock on a database that is up to date: DDL such as
   `CREATE INDEX IF NOT EXISTS` locks its table even when the index exists, and
   deadlocked a running worker's save when a CLI command started.
"""

from __future__ import annotations

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
from switchyard.adapters.postgres.migrate import datastore_params, migrate
from switchyard.application.guards import WriteGuards
from switchyard.application.scheduling import PlanRow, TaskRow
from switchyard.domain.errors import StaleFence, TaskSuperseded

PIPELINED_BYTES = 256 * 1024
"""A group whose events take more is written statement by statement, not pipelined (1.)."""


class TransactionalRecorder(PostgresApplicationRecorder):
    """Inserts each save's events and scheduling rows in one plain transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = self.datastore.schema or "public"
        self._upsert_plans = scheduler_tables.prepared(scheduler_tables.UPSERT_PLANS, schema)
        self._upsert_tasks = scheduler_tables.prepared(scheduler_tables.UPSERT_TASKS, schema)
        self._lock_fences = scheduler_tables.prepared(scheduler_tables.LOCK_FENCES, schema)
        self._select_superseding = scheduler_tables.prepared(
            scheduler_tables.SELECT_SUPERSEDING, schema
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
            # Which save lost its optimistic-concurrency race? Each alone tells.
            for pending in group:
                if not pending.decided:
                    self._write_group([pending])
        except Exception as failure:
            for pending in group:
                if not pending.decided:
                    pending.refuse(failure)

    def _write_together(self, group: list[PendingSave]) -> None:
        pipelined = sum(len(e.state) for p in group for e in p.events) <= PIPELINED_BYTES
        with ExitStack() as stack:
            conn = stack.enter_context(self.datastore.get_connection())
            curs = stack.enter_context(conn.cursor())
            pipeline = stack.enter_context(conn.pipeline()) if pipelined else None
            with conn.transaction():
                # The claims' advisory lock first (only a retry or rollback takes it), then
                # row locks (the fenced tasks and the queue rows, in task-id order), the
                # events table lock last: every writer takes its locks in this order, so
                # none can deadlock, and the serialised part is the insert alone.
                admitted = self._admit(curs, group)
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

    def _admit(self, curs: Cursor[DictRow], group: list[PendingSave]) -> list[PendingSave]:
        """The saves whose guards hold; the others are refused with their own error."""
        restarting = [p for p in group if p.guards.not_superseded]
        if restarting:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (scheduler_tables.CLAIM_LOCK,))
            for pending in restarting:
                superseded = self._superseded(curs, pending.guards.not_superseded)
                if superseded is not None:
                    pending.refuse(superseded)
        fenced = [p for p in group if p.guards.fence is not None and not p.decided]
        if fenced:
            fences = self._lock_tasks(curs, [p for p in group if not p.decided])
            for pending in fenced:
                claim = pending.guards.fence
                assert claim is not None
                current = fences.get(claim.task_id)
                if current != claim.fence:
                    task_id = str(claim.task_id)
                    pending.refuse(
                        StaleFence(task_id=task_id, fence=claim.fence, current_fence=current)
                    )
        return [p for p in group if not p.decided]

    def _superseded(self, curs: Cursor[DictRow], task_ids: Sequence[UUID]) -> TaskSuperseded | None:
        curs.execute(self._select_superseding, (list(task_ids),))
        row = curs.fetchone()
        if row is None:
            return None
        return TaskSuperseded(
            task_id=str(row["task_id"]),
            newer_task_id=str(row["newer_task_id"]),
            newer_plan_id=str(row["newer_plan_id"]),
        )

    def _lock_tasks(self, curs: Cursor[DictRow], group: list[PendingSave]) -> dict[UUID, int]:
        # Lock the fenced tasks' rows and every queue row the group writes, in task-id
        # order: a claim by another worker either committed (and we see its higher
        # fence) or waits until this group has committed.
        task_ids = {p.guards.fence.task_id for p in group if p.guards.fence is not None}
        task_ids |= {r.task_id for p in group for r in p.scheduling if isinstance(r, TaskRow)}
        curs.execute(self._lock_fences, (sorted(task_ids),))
        return {row["task_id"]: row["fence"] for row in curs.fetchall()}

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
