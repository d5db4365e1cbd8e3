"""Writing a big plan in one transaction, chunk by chunk, without holding it all in memory.

Each chunk's events are copied (COPY, binary) into a temporary table that
lives only as long as the transaction, its new tasks are copied into the
scheduler's queue, and its other scheduling rows (tasks it supersedes) are
written as every save writes them; the events table is not touched yet, so other writers
go on saving while the chunks stream in. At the end, as every save does, the
recorder notifies, takes the events table's lock and inserts the staged events
in their order with one INSERT ... SELECT: the lock is held for that statement
and the commit only, and notification ids still follow commit order (a log
follower never skips an event). That statement sorts the staged events by
position; the transaction's `work_mem` is raised to hold them (up to
`SORT_MEMORY_LIMIT`), or the sort would spill them all to disk and read them
back while every other writer waits for the lock. A conflict (another save
wrote one of the aggregates first) fails that INSERT, and the whole
transaction, staged rows and scheduling rows included, rolls back.

The tenants' task lists are read the same way for many at once: one SELECT
of the events of many aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from psycopg import Cursor, sql
from psycopg.rows import DictRow

from switchyard.adapters.postgres import scheduler_tables
from switchyard.adapters.postgres.scheduler_tables import rendered
from switchyard.application.plan_recording import StoreChunk
from switchyard.application.scheduling import TaskRow

if TYPE_CHECKING:
    from switchyard.adapters.postgres.event_store import TransactionalRecorder

STAGED = "switchyard_staged_events"
"""The temporary table a plan's events wait in until the transaction publishes them."""

_STAGE = f"""
CREATE TEMPORARY TABLE {STAGED} (
    position bigint NOT NULL, originator_id uuid NOT NULL,
    originator_version integer NOT NULL, topic text NOT NULL, state bytea NOT NULL
) ON COMMIT DROP
"""

_COPY = (
    f"COPY {STAGED} (position, originator_id, originator_version, topic, state)"
    " FROM STDIN (FORMAT BINARY)"
)

_IDLE_LIMIT = "SET LOCAL idle_in_transaction_session_timeout = '60s'"

SORT_MEMORY_LIMIT = 256 * 1024 * 1024
"""The most memory the publishing sort may take on the server (bytes); a bigger plan spills."""

_SORT_OVERHEAD = 1.5
"""A sorted row's memory for each byte of its event (its header and other columns)."""

_RAISE_WORK_MEM = """
SELECT set_config('work_mem',
    greatest(pg_size_bytes(current_setting('work_mem')) / 1024, %s)::text || 'kB', true)
"""

_COLUMN_TYPES = ("int8", "uuid", "int4", "text", "bytea")

_COPY_TASKS = """
COPY {tasks} (task_id, plan_id, tenant_id, position, status, version, needs_worker, total_stages)
FROM STDIN (FORMAT BINARY)
"""

_TASK_TYPES = ("uuid", "uuid", "text", "int4", "text", "int4", "bool", "int4")

_PUBLISH = """
WITH published AS (
    INSERT INTO {events} (originator_id, originator_version, topic, state)
    SELECT originator_id, originator_version, topic, state FROM {staged} ORDER BY position
    RETURNING notification_id)
SELECT max(notification_id) AS last FROM published
"""

_SELECT_MANY = """
SELECT originator_id, originator_version, topic, state FROM {events}
WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version
"""


def events_table(recorder: TransactionalRecorder) -> sql.Composable:
    """The recorder's events table, schema-qualified."""
    schema = recorder.datastore.schema or "public"
    return sql.Identifier(schema, recorder.events_table_name)


def insert_in_chunks(recorder: TransactionalRecorder, chunks: Iterable[StoreChunk]) -> int:
    """Stage every chunk, then publish them all under the table lock; the last notification id."""
    publish = rendered(
        sql.SQL(_PUBLISH).format(events=events_table(recorder), staged=sql.Identifier(STAGED))
    )
    with (
        recorder.datastore.get_connection() as conn,
        conn.transaction(),
        conn.cursor() as curs,
    ):
        # The client builds the next chunk between statements; the store's idle limit
        # (meant for stuck clients) must not cut a big plan short. No table lock is
        # held while it builds, so a longer limit keeps no other writer waiting.
        curs.execute(_IDLE_LIMIT)
        curs.execute(_STAGE)
        staged = staged_bytes = 0
        for chunk in chunks:
            recorder._write_scheduling(curs, chunk.scheduling)
            _queue(curs, queue_table(recorder), chunk.new_tasks)
            staged = _stage(curs, chunk.events, staged)
            staged_bytes += sum(len(e.state) for e in chunk.events)
        _sort_in_memory(curs, staged_bytes)
        recorder._notify_channel(curs)
        recorder._lock_table(curs)
        curs.execute(publish)
        row = curs.fetchone()
        if row is None or row["last"] is None:
            raise ValueError("a plan records at least one event")
        return int(row["last"])


def _sort_in_memory(curs: Cursor[DictRow], staged_bytes: int) -> None:
    kib = min(int(staged_bytes * _SORT_OVERHEAD), SORT_MEMORY_LIMIT) // 1024
    curs.execute(_RAISE_WORK_MEM, (kib,))


def queue_table(recorder: TransactionalRecorder) -> sql.Composable:
    """The scheduler's table of tasks, schema-qualified."""
    return sql.Identifier(recorder.datastore.schema or "public", scheduler_tables.TASKS)


def _queue(curs: Cursor[DictRow], table: sql.Composable, tasks: Sequence[TaskRow]) -> None:
    """Add the plan's new tasks to the scheduler's queue (they have no row yet: a plain COPY)."""
    if not tasks:
        return
    with curs.copy(sql.SQL(_COPY_TASKS).format(tasks=table)) as copy:
        copy.set_types(list(_TASK_TYPES))
        for t in tasks:
            copy.write_row(
                (
                    t.task_id,
                    t.plan_id,
                    t.tenant_id,
                    t.position,
                    str(t.status),
                    t.version,
                    t.needs_worker,
                    t.total_stages,
                )
            )


def _stage(curs: Cursor[DictRow], events: Sequence[StoredEvent], staged: int) -> int:
    with curs.copy(_COPY) as copy:
        copy.set_types(list(_COLUMN_TYPES))
        for position, event in enumerate(events, start=staged):
            copy.write_row(
                (position, event.originator_id, event.originator_version, event.topic, event.state)
            )
    return staged + len(events)


def select_events_of(
    recorder: TransactionalRecorder, originator_ids: Sequence[UUID]
) -> list[StoredEvent]:
    """Every event of the given aggregates, each aggregate's in version order."""
    if not originator_ids:
        return []
    query = rendered(sql.SQL(_SELECT_MANY).format(events=events_table(recorder)))
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(query, (list(originator_ids),))
        return [
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            for row in curs.fetchall()
        ]
