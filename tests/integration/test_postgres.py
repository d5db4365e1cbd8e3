"""Real PostgreSQL only: a big plan, concurrent writers, restarts and value round trips."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.domain.errors import SwitchyardError
from switchyard.domain.plan import Plan
from switchyard.domain.status import PlanStatus, TaskStatus
from switchyard.domain.task import Task
from switchyard.domain.values import (
    FailureInfo,
    FailureType,
    StageDefinition,
    StageOutcome,
    StepDefinition,
)
from tests.support.builders import NOW, new_task, plan_request, run_stages
from tests.support.state import public_state

BARRIER_TIMEOUT = 20.0
BIG_PLAN_DEADLINE = 60.0
"""Seconds before a 500-tenant create counts as hung (it takes about one): not a speed check."""


def build(env: dict[str, str], conflict_retries: int = 5) -> Switchyard:
    """A new application instance on the given event store."""
    settings = Settings(database_url=None, conflict_retries=conflict_retries).with_loopback()
    return bootstrap(settings, env=env)


@pytest.fixture()
def apps(pg_env: dict[str, str]) -> Iterator[Callable[..., Switchyard]]:
    """Builds application instances on one schema, and closes them all at the end."""
    built: list[Switchyard] = []

    def make(conflict_retries: int = 5) -> Switchyard:
        app = build(pg_env, conflict_retries)
        built.append(app)
        return app

    yield make
    for app in built:
        app.close()


class ReadThenWait(Switchyard):
    """The real application, but each command's first load of a task waits at a barrier.

    Both writers then decide on the same version: a real race, every time.
    """

    name = Switchyard.name  # the library names the tables after the application

    def __init__(self, *args: Any, barrier: threading.Barrier, **kwargs: Any) -> None:
        self.barrier = barrier
        self.waited = False
        super().__init__(*args, **kwargs)

    def get_task(self, task_id: UUID) -> Task:
        """Load the task; the first time, wait until the other writer has loaded it too."""
        task = super().get_task(task_id)
        if not self.waited:
            self.waited = True
            self.barrier.wait(BARRIER_TIMEOUT)
        return task


def racing(pg_env: dict[str, str], barrier: threading.Barrier, retries: int) -> ReadThenWait:
    """A racing application instance on the given store."""
    settings = Settings(database_url=None).with_loopback()
    factory = bootstrap(settings, env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).stage_factory
    return ReadThenWait(pg_env, stage_factory=factory, conflict_retries=retries, barrier=barrier)


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads at once; each result is a value or the error raised."""
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BARRIER_TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads)
    return results


def assert_stream_consistent(app: Switchyard, aggregate_id: UUID) -> list[Any]:
    """No gap, no duplicate version, and the aggregate replays to the last version."""
    stored = app.recorder.select_events(aggregate_id)
    versions = [s.originator_version for s in stored]
    assert versions == list(range(1, len(versions) + 1))
    assert app.repository.get(aggregate_id).version == len(versions)
    return [app.mapper.to_domain_event(s) for s in stored]


def event_types(events: list[Any]) -> list[str]:
    """The type names of domain events."""
    return [type(e).__name__ for e in events]


# -- a big plan ------------------------------------------------------------


def create_within_deadline(app: Switchyard, request: dict[str, Any], database_url: str) -> Any:
    """Create the plan in a thread; None if it has not answered by the deadline (hung)."""
    results = run_together_with_deadline(lambda: app.create_plan(request, "alice"))
    if results is None:
        schema = app.recorder.datastore.schema  # type: ignore[attr-defined]
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(  # free the event table's lock, so the schema can be dropped
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND query LIKE %s",
                (f"%{schema}%",),
            )
    return results


def run_together_with_deadline(call: Callable[[], Any]) -> Any:
    """Run one call in a daemon thread; its result, or None past the deadline."""
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(call())
        except Exception as exc:  # a hung call fails once its connection is ended
            results.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BIG_PLAN_DEADLINE)
    return results[0] if results else None


def check_big_plan(app: Switchyard, created: Any, tenants: list[str]) -> None:
    """The plan reads back whole, in FIFO order, every task queued."""
    view = app.describe_plan(created.plan_id)
    assert view.task_count == len(tenants)
    assert [t.tenant_id for t in view.tasks] == tenants
    assert [t.position for t in view.tasks] == list(range(len(tenants)))
    assert {t.status for t in view.tasks} == {TaskStatus.QUEUED}
    assert view.status == PlanStatus.QUEUED
    assert created.sequence == app.recorder.max_notification_id()
    assert app.current_task_id(tenants[-1]) == created.task_ids[-1]


def test_plan_of_500_tenants_is_recorded_and_read_back(
    pg_env: dict[str, str], database_url: str
) -> None:
    tenants = [f"tenant-{i:03d}" for i in range(500)]
    app = build(pg_env)
    try:
        request = plan_request(*tenants, max_concurrency=50)
        created = create_within_deadline(app, request, database_url)
        assert created is not None, "unseen: create_plan never answered"
        check_big_plan(app, created, tenants)
    finally:
        app.close()


# -- concurrent writers ----------------------------------------------------


def test_concurrent_writers_on_one_task_lose_no_write(apps: Callable[..., Switchyard]) -> None:
    first, second = apps(), apps()
    created = first.create_plan(plan_request(*(f"t{i}" for i in range(8))), "alice")
    for task_id in created.task_ids:
        barrier = threading.Barrier(2)

        def pause(task_id: UUID = task_id, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait(BARRIER_TIMEOUT)
            return first.pause_task(task_id, "bob")

        def cancel(task_id: UUID = task_id, barrier: threading.Barrier = barrier) -> Any:
            barrier.wait(BARRIER_TIMEOUT)
            return second.cancel_task(task_id, "carol")

        paused, cancelled = run_together(pause, cancel)
        check_pause_and_cancel(first, task_id, paused, cancelled)


def check_pause_and_cancel(app: Switchyard, task_id: UUID, paused: Any, cancelled: Any) -> None:
    """Whoever won, the stream holds exactly the commands that reported success."""
    outcomes = [r for r in (paused, cancelled) if isinstance(r, Exception)]
    assert all(isinstance(e, SwitchyardError) for e in outcomes), outcomes
    codes = {e.code for e in outcomes}
    assert codes <= {"command.conflict", "task.invalid_transition"}
    assert len(outcomes) <= 1
    types = event_types(assert_stream_consistent(app, task_id))
    # lost write: a reported success missing from the stream; duplicate: recorded twice
    assert types.count("PauseRequested") == (0 if isinstance(paused, Exception) else 1)
    assert types.count("CancelRequested") == (0 if isinstance(cancelled, Exception) else 1)
    assert app.describe_task(task_id).status == TaskStatus.CANCELLED


def test_racing_writers_without_retries_one_gets_command_conflict(
    pg_env: dict[str, str],
) -> None:
    setup = build(pg_env)
    task_id = setup.create_plan(plan_request("acme"), "alice").task_ids[0]
    barrier = threading.Barrier(2)
    first, second = racing(pg_env, barrier, 0), racing(pg_env, barrier, 0)
    try:
        results = run_together(
            lambda: first.pause_task(task_id, "bob"), lambda: second.cancel_task(task_id, "carol")
        )
        errors = [r for r in results if isinstance(r, Exception)]
        assert [getattr(e, "code", repr(e)) for e in errors] == ["command.conflict"]
        types = event_types(assert_stream_consistent(setup, task_id))
        assert types[2:] in (["PauseRequested", "Paused"], ["CancelRequested", "Cancelled"])
    finally:
        for app in (setup, first, second):
            app.close()


def test_racing_writers_the_loser_runs_again_on_fresh_state(pg_env: dict[str, str]) -> None:
    setup = build(pg_env)
    task_id = setup.create_plan(plan_request("acme"), "alice").task_ids[0]
    run_stages(setup, task_id, 1)
    task = setup.get_task(task_id)
    task.begin_stage(task.fence or 0)  # a stage runs: pause and cancel wait for its end
    setup.save(task)
    barrier = threading.Barrier(2)
    first, second = racing(pg_env, barrier, 3), racing(pg_env, barrier, 3)
    try:
        paused, cancelled = run_together(
            lambda: first.pause_task(task_id, "bob"), lambda: second.cancel_task(task_id, "carol")
        )
        # the loser read a stale version, so its first save conflicted and it ran again
        assert not isinstance(cancelled, Exception) or cancelled.code == "task.invalid_transition"
        assert not isinstance(paused, Exception) or paused.code == "task.invalid_transition"
        types = event_types(assert_stream_consistent(setup, task_id))
        assert types.count("PauseRequested") == (0 if isinstance(paused, Exception) else 1)
        assert types.count("CancelRequested") == 1
        assert setup.describe_task(task_id).cancel_requested
    finally:
        for app in (setup, first, second):
            app.close()


def test_concurrent_creations_with_one_key_make_one_plan(
    apps: Callable[..., Switchyard],
) -> None:
    for round_ in range(3):
        first, second = apps(), apps()
        key = f"deploy-{round_}"
        request = plan_request("acme", "globex")
        barrier = threading.Barrier(2)

        def create(
            app: Switchyard,
            barrier: threading.Barrier = barrier,
            key: str = key,
            request: dict[str, Any] = request,
        ) -> Any:
            barrier.wait(BARRIER_TIMEOUT)
            return app.create_plan(request, "alice", key)

        one, two = run_together(
            lambda first=first: create(first), lambda second=second: create(second)
        )
        assert not isinstance(one, Exception) and not isinstance(two, Exception), (one, two)
        assert (one.plan_id, one.task_ids) == (two.plan_id, two.task_ids)
        assert sorted([one.created, two.created]) == [False, True]
        # duplicate: a second plan or a second task for the tenant
        assert event_types(assert_stream_consistent(first, one.plan_id)) == ["Created"]
        tenant_tasks = first.repository.get(first._tenant_tasks("acme").id)  # type: ignore[union-attr]
        assert len(tenant_tasks.task_ids) == round_ + 1


# -- restart -----------------------------------------------------------------


def test_restart_keeps_everything(pg_env: dict[str, str]) -> None:
    app = build(pg_env)
    created = app.create_plan(plan_request("acme", "globex"), "alice", "key-1")
    run_stages(app, created.task_ids[0], 2, fail_next=True)
    app.pause_task(created.task_ids[1], "bob", "window closed")
    reads = read_everything(app, created.plan_id, created.task_ids)
    app.close()
    again = build(pg_env)
    try:
        assert read_everything(again, created.plan_id, created.task_ids) == reads
        assert again.create_plan(plan_request("acme", "globex"), "carol", "key-1").created is False
    finally:
        again.close()


def read_everything(app: Switchyard, plan_id: UUID, task_ids: tuple[UUID, ...]) -> list[Any]:
    """Every read the application answers about one plan."""
    return [
        app.describe_plan(plan_id),
        [app.describe_task(t) for t in task_ids],
        [app.task_history(t) for t in task_ids],
        app.describe_tenant("globex"),
        app.current_task_id("acme"),
        app.recorder.max_notification_id(),
    ]


# -- value round trips -----------------------------------------------------


def test_task_with_every_value_type_round_trips(pg_env: dict[str, str]) -> None:
    stages = (
        StageDefinition(
            "Write",
            (
                StepDefinition(
                    "redis-write",
                    {
                        "key": "route:acme",
                        "fields": {"version": "2.5.0", "weights": [1, 2.5, None]},
                        "nested": {"deep": {"list": [{"a": True}, "b"]}},
                    },
                ),
            ),
            timeout_seconds=30.5,
        ),
        StageDefinition("Check", (StepDefinition("health-check", {}), StepDefinition("noop"))),
    )
    task = new_task(
        stages, position=3, service_type="portal", target_version="2.5.0", actor="alice"
    )
    task.queue("alice")
    task.claim("worker-1", 7, NOW)
    index = task.begin_stage(7)
    task.complete_stage(index, {"previous": {"version": "2.4.0", "keys": ["a", None]}}, 7, NOW)
    task.fail_stage(task.begin_stage(7), FailureInfo(FailureType.HEALTH_CHECK, "503 x3"), 7)
    saved = public_state(task)
    writer = build(pg_env)
    writer.save(task)
    writer.close()
    reader = build(pg_env)
    try:
        loaded = reader.get_task(task.id)
        assert public_state(loaded) == saved
        assert loaded.completed == (
            StageOutcome(
                0,
                "Write",
                {
                    "previous": {"version": "2.4.0", "keys": ["a", None]},
                },
            ),
        )
        assert isinstance(loaded.failure, FailureInfo)
        assert type(loaded.failure.type) is FailureType
        assert type(loaded.status) is TaskStatus and loaded.status == TaskStatus.FAILED
        assert isinstance(loaded.stages, tuple) and isinstance(loaded.stages[0].steps, tuple)
        assert loaded.started_at == NOW
        assert [type(e).__name__ for e in reader.events.get(task.id)][-2:] == [
            "StageFailed",
            "Failed",
        ]
    finally:
        reader.close()


def test_plan_round_trips(pg_env: dict[str, str]) -> None:
    plan = Plan(
        id=uuid4(),
        name="green",
        max_concurrency=4,
        task_ids=[uuid4(), uuid4()],
        tenant_ids=["acme", "globex"],
        actor="alice",
        idempotency_key=None,
        fingerprint="f" * 64,
    )
    plan.request_pause("bob", "window")
    plan.request_retry("bob", from_checkpoint=False)
    saved = public_state(plan)
    writer = build(pg_env)
    writer.save(plan)
    writer.close()
    reader = build(pg_env)
    try:
        loaded = reader.get_plan(plan.id)
        assert public_state(loaded) == saved
        assert all(isinstance(t, UUID) for t in loaded.task_ids)
        events = list(reader.events.get(plan.id))
        assert (events[1].actor, events[1].reason) == ("bob", "window")
        assert events[2].from_checkpoint is False
    finally:
        reader.close()
