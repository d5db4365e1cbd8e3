"""A plan of 50,000 tenants on PostgreSQL: recorded all or nothing, in chunks, then run;
and more plans recorded at once than the store has connections."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.application.plan_recording import StoreChunk, store_chunk
from switchyard.application.planning import plan_chunks
from switchyard.domain.errors import PlanInvalid
from switchyard.domain.status import TaskStatus
from switchyard.domain.validation import validate_plan_request
from tests.support.builders import probe_plan
from tests.support.schedulers import Probe, probe_factory, running_scheduler
from tests.support.waiting import wait_until

TENANTS = 50_000
LAST = TENANTS - 1


def big_plan(**changes: Any) -> dict[str, Any]:
    """A probe plan of TENANTS tenants, one at a time."""
    return probe_plan(*(f"t{i:05d}" for i in range(TENANTS)), **changes)


def queued_rows(app: Switchyard, plan_id: UUID) -> int:
    """How many of the plan's tasks the scheduler's queue holds."""
    schema = app.recorder.datastore.schema or "public"  # type: ignore[attr-defined]
    with app.recorder.datastore.transaction(commit=False) as curs:  # type: ignore[attr-defined]
        curs.execute(
            f'SELECT count(*) AS n FROM "{schema}".switchyard_queue_tasks WHERE plan_id = %s',
            (plan_id,),
        )
        return int(curs.fetchone()["n"])


def test_a_bad_tenant_at_position_49999_records_nothing(app: Switchyard) -> None:
    request = big_plan()
    request["tenants"][LAST]["serviceType"] = "no-such-type"
    before = app.recorder.max_notification_id()
    with pytest.raises(PlanInvalid) as refused:
        app.create_plan(request, "ci")
    assert [(p.field, p.code) for p in refused.value.problems] == [
        (f"tenants[{LAST}].serviceType", "unknown_service_type")
    ]
    assert app.recorder.max_notification_id() == before, "lost write: a refused plan wrote"


def test_a_conflict_in_the_last_chunk_rolls_back_every_chunk(app: Switchyard) -> None:
    valid = validate_plan_request(big_plan(), app.stage_factory.service_types(), app.outbound)
    plan, chunks = plan_chunks(
        uuid4(), valid, "ci", None, app.stage_factory, lambda _: {}, app.get_task
    )

    def racing() -> Iterator[StoreChunk]:
        # Once every chunk but the last is written, another plan takes the last
        # tenant's task list first: the big plan's list for it now conflicts.
        held = next(chunks)
        for chunk in chunks:
            yield store_chunk(held, app.mapper)
            held = chunk
        app.create_plan(probe_plan(f"t{LAST:05d}"), "rival")
        yield store_chunk(held, app.mapper)

    with pytest.raises(IntegrityError):
        app.recorder.insert_in_chunks(racing())  # type: ignore[attr-defined]
    assert not app.recorder.select_events_of([plan.id, plan.task_ids[0]])  # type: ignore[attr-defined]
    assert queued_rows(app, plan.id) == 0


def log_after(app: Switchyard, before: int) -> dict[str, Any]:
    """The log after `before` as a follower reads it: how many events, how many come out of
    their aggregate's version order, and the aggregate of the first one."""
    recorder: Any = app.recorder
    events = f'"{recorder.datastore.schema or "public"}"."{recorder.events_table_name}"'
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(
            "SELECT count(*) AS events,"
            " count(*) FILTER (WHERE previous IS NOT NULL AND version <> previous + 1)"
            " AS out_of_order,"
            " (array_agg(originator_id ORDER BY notification_id))[1] AS first"
            " FROM (SELECT originator_id, notification_id, originator_version AS version,"
            "  lag(originator_version) OVER (PARTITION BY originator_id ORDER BY notification_id)"
            "  AS previous"
            f" FROM {events} WHERE notification_id > %s) AS log",
            (before,),
        )
        return dict(curs.fetchone())


def test_a_valid_plan_is_recorded_whole_and_its_first_task_starts(app: Switchyard) -> None:
    before = app.recorder.max_notification_id() or 0
    created = app.create_plan(big_plan(max_concurrency=1), "ci")
    assert len(created.task_ids) == TENANTS
    log = log_after(app, before)
    # The plan, then each task's Created and Queued and its tenant's Registered and
    # TaskAssigned: every one once, each aggregate's in order, the plan first.
    assert log == {"events": 1 + 4 * TENANTS, "out_of_order": 0, "first": created.plan_id}
    assert created.sequence == app.recorder.max_notification_id(), "the answer names the last"
    assert app.get_plan(created.plan_id).task_ids == created.task_ids
    assert queued_rows(app, created.plan_id) == TENANTS
    last = app.get_task(created.task_ids[LAST])
    assert (last.tenant_id, last.position, last.status) == (
        f"t{LAST:05d}",
        LAST,
        TaskStatus.QUEUED,
    )
    first = created.task_ids[0]
    with running_scheduler(app, {"probe": Probe()}):
        wait_until(lambda: app.get_task(first).ever_started, 30, "the first task's start")


def test_more_plans_at_once_than_the_pool_has_connections_all_commit(
    pg_env: dict[str, str],
) -> None:
    small_pool = {**pg_env, "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "0"}
    settings = Settings(database_url=None).with_loopback()
    app = bootstrap(settings, env=small_pool, stage_factory=probe_factory())
    try:
        with ThreadPoolExecutor(8) as creating:
            made = list(
                creating.map(
                    lambda i: app.create_plan(probe_plan(f"a{i}", f"b{i}"), "ci"),
                    range(8),
                )
            )
    finally:
        app.close()
    assert len({plan.plan_id for plan in made}) == 8
