"""Group commit on real PostgreSQL: each save fails alone, the log has no gap, a crash
writes nothing half.

Checks named as Jepsen's Kafka checker names them: a lost write (a good save not
recorded), a wrong refusal (a good save failed), unseen (a follower never saw an
event), duplicate (seen twice), out of order.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import RecordConflictError
from psycopg import sql

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.postgres.event_store import TransactionalRecorder
from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.adapters.scheduler.process import SchedulerConfig
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.application.ports import Claim
from switchyard.domain.errors import StaleFence
from switchyard.domain.status import TaskStatus
from tests.support.builders import probe_plan
from tests.support.processes import Schedulers, completed
from tests.support.schedulers import Probe, probe_factory, running_scheduler
from tests.support.waiting import wait_until

OWNER = "worker-under-test"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BARRIER_TIMEOUT = 30.0


def recorder_of(app: Switchyard) -> TransactionalRecorder:
    """The application's PostgreSQL recorder."""
    recorder = app.recorder
    assert isinstance(recorder, TransactionalRecorder)
    return recorder


def store_sql(app: Switchyard, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run a statement on the app's schema; its rows ({schema} is filled in)."""
    datastore = recorder_of(app).datastore
    query = sql.SQL(statement).format(schema=sql.Identifier(datastore.schema or "public"))
    with datastore.get_connection() as conn, conn.cursor(row_factory=psycopg.rows.tuple_row) as c:
        c.execute(query, params)
        return c.fetchall() if c.description else []


def at_once(saves: list[Callable[[], object]]) -> list[BaseException | None]:
    """Run the saves in threads released together; each one's error, or None."""
    barrier = threading.Barrier(len(saves))
    outcomes: list[BaseException | None] = [None] * len(saves)

    def run(index: int) -> None:
        barrier.wait(BARRIER_TIMEOUT)
        try:
            saves[index]()
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(saves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT * 2)
    return outcomes


def claimed_tasks(app: Switchyard, count: int) -> list[Claim]:
    """A plan of `count` tenants, every task claimed by OWNER."""
    app.create_plan(probe_plan(*(f"t{i:02}" for i in range(count)), max_concurrency=count), "ci")
    recorder = recorder_of(app)
    leases = PostgresLeases(recorder.datastore, recorder.channel_name)
    claims = [leases.claim(OWNER, 30) for _ in range(count)]
    assert all(claim is not None for claim in claims)
    return [claim for claim in claims if claim is not None]


def taken_over(app: Switchyard, claim: Claim) -> Claim:
    """Expire the claim's lease and claim the task again: the first claim is now stale."""
    store_sql(
        app,
        "UPDATE {schema}.switchyard_queue_tasks SET lease_expires = now() - interval '1 s'"
        " WHERE task_id = %s",
        claim.task_id,
    )
    recorder = recorder_of(app)
    again = PostgresLeases(recorder.datastore, recorder.channel_name).claim(OWNER, 30)
    assert again is not None and again.task_id == claim.task_id and again.fence > claim.fence
    return again


def test_in_one_group_only_the_stale_and_the_conflicting_saves_fail(app: Switchyard) -> None:
    claims = claimed_tasks(app, 10)
    stale, contested, good = claims[0], claims[1], claims[2:]
    taken_over(app, stale)
    versions = {claim.task_id: app.get_task(claim.task_id).version for claim in claims}

    def worker_save(claim: Claim) -> Callable[[], object]:
        task = app.get_task(claim.task_id)

        def save() -> object:
            task.claim(OWNER, claim.fence, NOW)
            return app.save_fenced(task, claim)

        return save

    operator_copy = app.get_task(contested.task_id)

    def operator_pause() -> object:
        operator_copy.pause("ops")
        return app.save(operator_copy)

    saves = [worker_save(claim) for claim in good]
    saves += [worker_save(stale), worker_save(contested), operator_pause]
    # The leader waits until every save has queued: one group (the contested task's
    # second save waits for the next, as two saves of one aggregate never share one).
    recorder_of(app).configure_group_commit(window_ms=BARRIER_TIMEOUT * 1000, max_saves=len(saves))
    before = recorder_of(app).max_notification_id()
    outcomes = at_once(saves)

    assert outcomes[: len(good)] == [None] * len(good), "wrong refusal"
    assert isinstance(outcomes[len(good)], StaleFence)
    contest = outcomes[len(good) + 1 :]
    assert sorted(type(o).__name__ for o in contest) == ["IntegrityError", "NoneType"]
    assert any(isinstance(o, RecordConflictError) for o in contest)
    for claim in good:
        assert app.get_task(claim.task_id).status == TaskStatus.RUNNING, "lost write"
    assert app.get_task(stale.task_id).version == versions[stale.task_id]
    assert app.get_task(contested.task_id).version > versions[contested.task_id], "lost write"
    written = [c.task_id for c in good]
    transactions = store_sql(
        app,
        "SELECT DISTINCT xmin::text FROM {schema}.switchyard_events"
        " WHERE originator_id = ANY(%s) AND notification_id > %s",
        written,
        before,
    )
    assert len(transactions) == 1, "the good saves were not written in one group"


def test_a_save_that_lost_its_race_fails_alone_and_the_rest_of_its_group_commits(
    app: Switchyard,
) -> None:
    claims = claimed_tasks(app, 6)
    tasks = [app.get_task(claim.task_id) for claim in claims]
    late = app.get_task(claims[0].task_id)  # loaded before an operator's command lands
    early = app.get_task(claims[0].task_id)
    early.pause("ops")
    app.save(early)

    def save(index: int) -> Callable[[], object]:
        task, claim = (late, claims[0]) if index == 0 else (tasks[index], claims[index])

        def run() -> object:
            task.claim(OWNER, claim.fence, NOW)
            return app.save_fenced(task, claim)

        return run

    recorder_of(app).configure_group_commit(window_ms=BARRIER_TIMEOUT * 1000, max_saves=6)
    before = recorder_of(app).max_notification_id()
    outcomes = at_once([save(i) for i in range(6)])

    assert isinstance(outcomes[0], RecordConflictError)
    assert outcomes[1:] == [None] * 5, "wrong refusal"
    for claim in claims[1:]:
        assert app.get_task(claim.task_id).status == TaskStatus.RUNNING, "lost write"
    transactions = store_sql(
        app,
        "SELECT DISTINCT xmin::text FROM {schema}.switchyard_events WHERE notification_id > %s",
        before,
    )
    assert len(transactions) == 1, "the rest of the group was not written together"


def test_a_log_follower_sees_every_event_once_while_groups_commit(
    app: Switchyard, pg_env: dict[str, str]
) -> None:
    tenants = [f"t{i:03}" for i in range(80)]
    plan = app.create_plan(probe_plan(*tenants, max_concurrency=len(tenants)), "ci")
    recorder = recorder_of(app)
    seen: list[int] = []
    following = threading.Event()
    following.set()

    def follow() -> None:  # as the relay's reader does: after the last id seen
        while following.is_set():
            after = seen[-1] if seen else 0
            batch = recorder.select_notifications(after, 50, inclusive_of_start=False)
            seen.extend(n.id for n in batch)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    config = SchedulerConfig(
        workers=16, lease_seconds=30, heartbeat_seconds=0.5, poll_seconds=0.2, grace_seconds=10
    )
    # Two schedulers, each its own application (its own group commit): their groups
    # commit concurrently, as two scheduler processes' would.
    other = bootstrap(
        Settings(database_url=None).with_loopback(), env=pg_env, stage_factory=probe_factory()
    )

    def all_completed() -> bool:
        return all(app.describe_task(t).status == TaskStatus.COMPLETED for t in plan.task_ids)

    try:
        with (
            running_scheduler(app, {"probe": Probe()}, config),
            running_scheduler(other, {"probe": Probe()}, config),
        ):
            wait_until(all_completed, 120, "every task completed")
    finally:
        other.close()
    last = recorder.max_notification_id()
    wait_until(lambda: bool(seen) and seen[-1] == last, 30, "the follower reaching the end")
    following.clear()
    follower.join(10)
    every = [
        row[0]
        for row in store_sql(
            app, "SELECT notification_id FROM {schema}.switchyard_events ORDER BY 1"
        )
    ]
    assert len(seen) == len(set(seen)), "duplicate"
    assert seen == sorted(seen), "out of order"
    assert seen == every, f"unseen: {sorted(set(every) - set(seen))[:10]}"
    groups = store_sql(app, "SELECT count(DISTINCT xmin::text) FROM {schema}.switchyard_events")
    assert groups[0][0] < len(every), "no save was grouped"


class TableLock:
    """The events table's lock, held from the test as a long writer would hold it."""

    def __init__(self, app: Switchyard, database_url: str) -> None:
        schema = recorder_of(app).datastore.schema or "public"
        self.table = sql.Identifier(schema, "switchyard_events")
        self.conn = psycopg.connect(database_url, autocommit=True)

    def hold(self) -> None:
        """Take the lock: every save's transaction waits at its own table lock."""
        self.conn.execute("BEGIN")
        self.conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.table))

    def release(self) -> None:
        """Let the waiting writers go on."""
        self.conn.execute("COMMIT")

    def waiting(self) -> int:
        """How many transactions wait for the lock."""
        row = self.conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
            (self.table.as_string(self.conn),),
        ).fetchone()
        return 0 if row is None else int(row[0])


@pytest.fixture()
def table_lock(app: Switchyard, database_url: str) -> Iterator[TableLock]:
    """The events table's lock, for the test to hold."""
    lock = TableLock(app, database_url)
    yield lock
    lock.conn.close()


def test_a_scheduler_killed_while_its_group_is_written_leaves_nothing_half_written(
    app: Switchyard, schedulers: Schedulers, table_lock: TableLock
) -> None:
    tenants = ["acme", "globex", "initech", "umbrella"]
    plan = app.create_plan(probe_plan(*tenants, max_concurrency=len(tenants)), "ci")
    first = schedulers.start(slow="Two:1")

    def count(line: str) -> int:
        return sum(entry.startswith(line) for entry in schedulers.lines(first))

    wait_until(lambda: count("enter Two") == len(tenants), 30, "every task in stage Two")
    table_lock.hold()  # each save after stage Two now waits in its group, mid-transaction
    wait_until(lambda: count("leave Two") == len(tenants), 30, "every stage Two ended")
    wait_until(lambda: table_lock.waiting() > 0, 30, "a group waiting for the table")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    table_lock.release()

    for task_id in plan.task_ids:
        task = app.get_task(task_id)
        assert [name for name, _ in completed(app, task_id)] == ["One"], "half written"
        assert task.current_stage == 1, "half written"
        queued = store_sql(
            app, "SELECT version FROM {schema}.switchyard_queue_tasks WHERE task_id = %s", task_id
        )
        assert queued == [(task.version,)], "the queue row disagrees with the events"
    schedulers.start()
    wait_until(
        lambda: all(app.describe_task(t).status == TaskStatus.COMPLETED for t in plan.task_ids),
        60,
        "takeover",
    )
    for task_id in plan.task_ids:
        assert [name for name, _ in completed(app, task_id)] == ["One", "Two", "Three"]
        names = [type(e).__name__ for e in app.events.get(task_id)]
        assert names.count("Claimed") == 1, names
