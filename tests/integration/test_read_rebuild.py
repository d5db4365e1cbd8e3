"""A plan run end to end on PostgreSQL: the read tables built by applying its events in log
order equal a rebuild from the event store, swapped in while the old tables answered;
queries run in a loop during rebuilds never fail nor see a partial answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from switchyard.adapters.postgres.read_store import apply, reading
from switchyard.adapters.postgres.rebuild import rebuild
from switchyard.adapters.relay.attribution import Attribution, first_events
from switchyard.application.app import Switchyard
from switchyard.domain.status import PlanStatus
from switchyard.projections.events import ProjectedEvent, from_message
from switchyard.projections.queries import audit, list_plans
from tests.integration.test_read_model import engines as engines
from tests.integration.test_read_model import rows
from tests.support.builders import probe_plan
from tests.support.postgres import schema_engine
from tests.support.schedulers import Probe, running_scheduler
from tests.support.waiting import wait_until


@pytest.fixture()
def store_engine(app: Switchyard, database_url: str, pg_env: dict[str, str]) -> Iterator[Engine]:
    """An engine on the application's schema (migrated at its start, read tables included)."""
    schema = pg_env["POSTGRES_SCHEMA"]

    engine = schema_engine(database_url, schema)
    yield engine
    engine.dispose()


def logged_events(app: Switchyard) -> list[ProjectedEvent]:
    """Every stored event as the relay publishes it, in log order."""
    stored = app.recorder.select_notifications(0, 10_000)
    attribution = Attribution(app.mapper.transcoder, first_events(app.recorder))
    return [from_message(r.headers, r.value) for r in attribution.records(stored)]


def test_a_rebuild_from_the_store_equals_the_tables_built_from_the_log(
    app: Switchyard,
    store_engine: Engine,
    pg_env: dict[str, str],
    engines: tuple[Engine, Engine],
) -> None:
    created = app.create_plan(probe_plan("acme", "globex", "initech", max_concurrency=2), "ci")
    with running_scheduler(app, {"probe": Probe()}):
        wait_until(
            lambda: app.describe_plan(created.plan_id).status == PlanStatus.COMPLETED, 60, "done"
        )
    waiting = app.create_plan(probe_plan("hooli"), "cli:bob")
    app.pause_plan(waiting.plan_id, "cli:bob")
    events = logged_events(app)
    from_log, _ = engines
    with from_log.connect() as conn:
        apply(conn, events)
    with store_engine.connect() as conn:
        apply(conn, events[: len(events) // 2])  # live tables, half built: replaced whole
    last = rebuild(store_engine, pg_env["POSTGRES_SCHEMA"], app.recorder, app.mapper.transcoder)
    assert last == max(e.sequence for e in events)
    assert rows(store_engine) == rows(from_log)
    plans = rows(store_engine)["switchyard_read_plans"]
    assert sorted(p[2] for p in plans) == ["'COMPLETED'", "'PAUSED'"]
    # A second rebuild gives the same rows again.
    rebuild(store_engine, pg_env["POSTGRES_SCHEMA"], app.recorder, app.mapper.transcoder)
    assert rows(store_engine) == rows(from_log)


def test_queries_keep_answering_in_full_while_the_tables_are_rebuilt(
    app: Switchyard, store_engine: Engine, pg_env: dict[str, str]
) -> None:
    for tenants in (["acme", "globex"], ["initech", "hooli", "umbrella"]):
        created = app.create_plan(probe_plan(*tenants), "ci")
        app.pause_plan(created.plan_id, "cli:bob")
    events = logged_events(app)
    with store_engine.connect() as conn:
        apply(conn, events)
    expected = answers(store_engine)
    assert expected == ([3, 2], len(events))
    stop, seen, failures = threading.Event(), [], []

    def query_in_a_loop() -> None:
        while not stop.is_set():
            try:
                seen.append(answers(store_engine))
            except Exception as exc:  # every failure is reported by the assertion below
                failures.append(exc)

    looping = threading.Thread(target=query_in_a_loop)
    looping.start()
    try:
        for _ in range(3):
            during = len(seen)
            rebuild(store_engine, pg_env["POSTGRES_SCHEMA"], app.recorder, app.mapper.transcoder)
            wait_until(lambda: len(seen) > during, 30, "a query after the rebuild")  # noqa: B023
    finally:
        stop.set()
        looping.join(30)
    assert failures == []
    assert set(map(repr, seen)) == {repr(expected)}


def answers(engine: Engine) -> tuple[list[int], int]:
    """What the queries say: each plan's task count (newest first), and the audit's size."""
    with reading(engine) as conn:
        listed = [p.tasks_total for p in list_plans(conn)]
        events = len(audit(conn, limit=10_000))
    return listed, events
