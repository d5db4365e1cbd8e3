"""A tenant's tasks across plans, on real PostgreSQL with several schedulers.

Each tenant's tasks run in the order their plans were recorded (out of order:
an older task started after a newer one), never two at once (overlap), and the
tenant ends on the newest plan's version (lost write: an older version last).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

import pytest
import redis

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.adapters.settings import Settings
from switchyard.application.app import PlanCreated, Switchyard
from switchyard.application.views import TaskRef
from switchyard.domain.errors import SwitchyardError
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.status import PlanStatus, TaskStatus
from switchyard.domain.tenant import tenant_tasks_id
from tests.support.builders import plan_request, probe_plan, run_stages, tenant
from tests.support.schedulers import (
    FAST,
    Probe,
    max_overlap,
    probe_factory,
    running_scheduler,
    runs_of,
)
from tests.support.waiting import wait_until

FAST_HEALTH = {"interval": "20ms", "maxAttempts": 200}


def tenant_order(app: Switchyard, tenant_id: str) -> tuple[UUID, ...]:
    """The tenant's task ids in the order their plans were recorded."""
    task_ids: tuple[UUID, ...] = app.repository.get(tenant_tasks_id(tenant_id)).task_ids
    return task_ids


def check_tenant_ran_in_order(app: Switchyard, tenant_id: str) -> None:
    """Each task of the tenant ran once, after the one recorded before it had ended."""
    previous_end = None
    for task_id in tenant_order(app, tenant_id):
        runs = runs_of(app, task_id)
        assert len(runs) == 1, f"task {task_id} of {tenant_id} ran {len(runs)} times"
        if previous_end is not None:
            assert runs[0].start >= previous_end, f"{tenant_id}: out of order or overlapping"
        previous_end = runs[0].end


def create_at_once(
    env: dict[str, str], requests: Sequence[dict[str, Any]], factory: StageFactory | None = None
) -> list[PlanCreated]:
    """Create the plans from threads of their own, released together; in request order."""
    barrier = threading.Barrier(len(requests))
    created: list[PlanCreated | None] = [None] * len(requests)
    apps = [
        bootstrap(Settings(database_url=None).with_loopback(), env=env, stage_factory=factory)
        for _ in requests
    ]

    def create(index: int) -> None:
        barrier.wait(30)
        created[index] = apps[index].create_plan(requests[index], f"platform-{index}")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for app in apps:
        app.close()
    assert all(c is not None for c in created), "a plan creation failed"
    return [c for c in created if c is not None]


@pytest.fixture()
def gateway_app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application with the built-in service types."""
    application = bootstrap(Settings(database_url=None).with_loopback(), env=pg_env)
    yield application
    application.close()


def test_two_plans_at_once_leave_every_tenant_on_the_newer_version(
    gateway_app: Switchyard,
    pg_env: dict[str, str],
    fleet: Fleet,
    channel: str,
    store: redis.Redis,
    executors: Any,
) -> None:
    app = gateway_app
    names = [f"t{i}" for i in range(6)]
    endpoints = {name: fleet.add_tenant(name) for name in names}
    overrides = {"channel": channel, "route_key": f"{channel}:route:{{tenant_id}}"}

    def request(version: str) -> dict[str, Any]:
        tenants = [
            tenant(
                name,
                targetVersion=version,
                endpoints=endpoints[name],
                healthCheck=FAST_HEALTH,
                overrides=overrides,
            )
            for name in names
        ]
        return plan_request(*tenants, max_concurrency=3)

    created = create_at_once(pg_env, [request("5.0.0"), request("6.0.0")])
    with (
        running_scheduler(app, executors, owner="s1"),
        running_scheduler(app, executors, owner="s2"),
    ):
        for plan in created:
            wait_until(done(app, plan.plan_id), 120, f"plan {plan.plan_id} completed")
    for name in names:
        check_tenant_ran_in_order(app, name)
        newest = app.get_task(tenant_order(app, name)[-1]).target_version
        assert store.hget(f"{channel}:route:{name}", "version") == newest, f"{name}: lost write"
        assert fleet.versions(name) == [newest, newest]


def test_a_paused_older_task_holds_the_newer_one_until_it_finishes(app: Switchyard) -> None:
    probe = Probe()
    release = probe.hold("Two")
    older = app.create_plan(probe_plan("acme", version="1"), "ci").task_ids[0]
    newer_plan = app.create_plan(probe_plan("acme", "globex", version="2", max_concurrency=3), "ci")
    newer, other = newer_plan.task_ids
    with running_scheduler(app, {"probe": probe}):
        assert probe.entered["Two"].wait(30), "unseen: stage Two never started"
        app.pause_task(older, "sre", "freeze")
        release.set()
        wait_until(lambda: app.describe_task(older).status == TaskStatus.PAUSED, 30)
        wait_until(lambda: app.describe_task(other).status == TaskStatus.COMPLETED, 30)
        view = app.describe_task(newer)
        assert view.status == TaskStatus.QUEUED, "a newer task overtook a paused older one"
        assert view.waiting_for == TaskRef(older, app.describe_task(older).plan_id)
        assert app.current_task_id("acme") == older
        app.resume_task(older, "sre")
        wait_until(lambda: app.describe_task(newer).status == TaskStatus.COMPLETED, 30)
    check_tenant_ran_in_order_of_runs(app, older, newer)


def check_tenant_ran_in_order_of_runs(app: Switchyard, older: UUID, newer: UUID) -> None:
    """The newer task's only run started after the older task's last run ended."""
    older_runs, newer_runs = runs_of(app, older), runs_of(app, newer)
    assert len(newer_runs) == 1
    assert newer_runs[0].start >= older_runs[-1].end, "out of order"


def test_a_cancelled_older_task_lets_the_newer_one_run(app: Switchyard) -> None:
    probe = Probe()
    release = probe.hold("One")
    older = app.create_plan(probe_plan("acme", version="1"), "ci").task_ids[0]
    newer = app.create_plan(probe_plan("acme", version="2"), "ci").task_ids[0]
    with running_scheduler(app, {"probe": probe}):
        assert probe.entered["One"].wait(30), "unseen: stage One never started"
        app.cancel_task(older, "sre")
        release.set()
        wait_until(lambda: app.describe_task(newer).status == TaskStatus.COMPLETED, 30)
    assert app.describe_task(older).status == TaskStatus.CANCELLED
    check_tenant_ran_in_order_of_runs(app, older, newer)


def test_retry_is_refused_once_a_newer_task_is_claimed_even_before_it_starts(
    app: Switchyard, pg_env: dict[str, str]
) -> None:
    older = app.create_plan(probe_plan("acme", version="1"), "ci").task_ids[0]
    run_stages(app, older, 1, fail_next=True)
    newer = app.create_plan(probe_plan("acme", version="2"), "ci").task_ids[0]
    recorder: Any = app.recorder
    leases = PostgresLeases(recorder.datastore, recorder.channel_name)
    claim = leases.claim("s1", 30)
    assert claim is not None and claim.task_id == newer  # claimed; Started not yet recorded
    before = recorder.max_notification_id()
    with pytest.raises(SwitchyardError) as info:
        app.retry_task(older, "sre", from_checkpoint=False)
    assert info.value.code == "task.superseded"
    assert info.value.details["newer_task_id"] == str(newer)
    assert recorder.max_notification_id() == before
    leases.close()


def test_supersede_at_creation_cancels_the_waiting_task_and_runs_the_newer(
    app: Switchyard,
) -> None:
    older = app.create_plan(probe_plan("acme", "globex", version="1"), "ci")
    newer = app.create_plan(probe_plan("acme", version="2", supersede=True), "ci")
    with running_scheduler(app, {"probe": Probe()}):
        wait_until(lambda: app.describe_task(newer.task_ids[0]).status == TaskStatus.COMPLETED)
        wait_until(lambda: app.describe_task(older.task_ids[1]).status == TaskStatus.COMPLETED)
    assert app.describe_task(older.task_ids[0]).status == TaskStatus.CANCELLED
    assert runs_of(app, older.task_ids[0]) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_interleavings_of_plans_and_claims_keep_each_tenant_in_order(
    app: Switchyard, pg_env: dict[str, str], seed: int
) -> None:
    rng = random.Random(seed)
    tenants = ["acme", "globex", "initech", "umbrella"]
    waves = [
        [
            probe_plan(
                *rng.sample(tenants, rng.randint(1, 4)),
                version=f"{wave}.{i}",
                max_concurrency=rng.randint(1, 3),
            )
            for i in range(rng.randint(2, 3))
        ]
        for wave in range(3)
    ]
    created: list[PlanCreated] = []
    with (
        running_scheduler(app, {"probe": Probe()}, FAST, owner="s1"),
        running_scheduler(app, {"probe": Probe()}, FAST, owner="s2"),
        running_scheduler(app, {"probe": Probe()}, FAST, owner="s3"),
    ):
        for wave in waves:  # each wave of plans is created at once, while others run
            created += create_at_once(pg_env, wave, probe_factory())
        for plan in created:
            wait_until(done(app, plan.plan_id), 120, f"plan {plan.plan_id} completed")
    for tenant_id in tenants:
        check_tenant_ran_in_order(app, tenant_id)
    for plan, request in zip(created, [r for wave in waves for r in wave], strict=True):
        runs = [run for task_id in plan.task_ids for run in runs_of(app, task_id)]
        assert max_overlap(runs) <= request["maxConcurrency"]


def done(app: Switchyard, plan_id: UUID) -> Callable[[], bool]:
    """Whether the plan has completed."""
    return lambda: app.describe_plan(plan_id).status == PlanStatus.COMPLETED
