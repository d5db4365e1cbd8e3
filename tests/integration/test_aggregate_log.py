"""The event store read as a set of aggregates' log, on a real PostgreSQL: their events
only, in order, a bounded batch at a time, and a next read that starts past what the
last one scanned (other aggregates' newer events included) without skipping any."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder

from switchyard.adapters.postgres.aggregate_log import AggregateLog
from switchyard.adapters.postgres.read_store import store_engine
from switchyard.application.app import Switchyard
from tests.support.builders import plan_request


@pytest.fixture()
def log(pg_app: Switchyard) -> Iterator[AggregateLog]:
    """The log of the test's event store."""
    recorder = pg_app.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    engine = store_engine(recorder.datastore)
    yield AggregateLog.of(recorder, engine)
    engine.dispose()


def stored(app: Switchyard, aggregate_ids: set[UUID]) -> list[int]:
    """The sequences of these aggregates' events in the store, in order."""
    found = app.recorder.select_notifications(1, 10_000)
    return [n.id for n in found if n.originator_id in aggregate_ids]


def test_a_read_gives_the_aggregates_events_in_batches_and_scans_past_others(
    pg_app: Switchyard, log: AggregateLog
) -> None:
    made = pg_app.create_plan(plan_request("acme", "globex"), "ops")
    followed = [made.plan_id, *made.task_ids]
    expected = stored(pg_app, set(followed))
    first = log.read(followed, 0, limit=2)
    assert [n.id for n in first.events] == expected[:2]
    assert first.full and first.scanned == expected[1]
    rest = log.read(followed, first.scanned, limit=100)
    assert [n.id for n in first.events + rest.events] == expected
    assert not rest.full
    other = pg_app.create_plan(plan_request("initech"), "ops")
    quiet = log.read(followed, rest.scanned)
    assert quiet.events == [] and quiet.scanned == pg_app.recorder.max_notification_id()
    assert other.sequence <= quiet.scanned
    pg_app.pause_task(made.task_ids[0], "ops")
    after = log.read(followed, quiet.scanned)
    assert [n.id for n in after.events] == stored(pg_app, set(followed))[len(expected) :]
    assert log.read(followed, after.scanned).events == []


def test_task_statuses_are_those_of_the_scheduler_rows(
    pg_app: Switchyard, log: AggregateLog
) -> None:
    made = pg_app.create_plan(plan_request("acme", "globex"), "ops")
    pg_app.cancel_task(made.task_ids[1], "ops")
    assert log.task_statuses(made.task_ids) == {
        made.task_ids[0]: "QUEUED",
        made.task_ids[1]: "CANCELLED",
    }
