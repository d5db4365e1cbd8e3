"""Plans run end to end: real PostgreSQL, real Redis, a simulated fleet of HTTP instances."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.domain.status import PlanStatus, TaskStatus
from tests.support.builders import plan_request, tenant
from tests.support.schedulers import event_names, max_overlap, running_scheduler, runs_of
from tests.support.waiting import wait_until

FAST_HEALTH = {"interval": "20ms", "maxAttempts": 100}


@pytest.fixture()
def app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application with the built-in service types."""
    application = bootstrap(Settings(database_url=None).with_loopback(), env=pg_env)
    yield application
    application.close()


def fleet_tenant(
    name: str, fleet: Fleet, channel: str, stuck: int = 0, **extra: Any
) -> dict[str, Any]:
    """A tenant's deploy config whose instances are in the fleet (`stuck` never switch)."""
    return tenant(
        name,
        targetVersion="2.0.0",
        endpoints=fleet.add_tenant(name, stuck=stuck),
        healthCheck=FAST_HEALTH,
        overrides={"channel": channel, "route_key": f"{channel}:route:{{tenant_id}}"},
        **extra,
    )


def test_a_plan_of_50_tenants_switches_every_one_at_most_5_at_once(
    app: Switchyard, fleet: Fleet, channel: str, store: redis.Redis, executors: Any
) -> None:
    names = [f"gw{i:02d}" for i in range(50)]
    tenants = [fleet_tenant(n, fleet, channel) for n in names]
    created = app.create_plan(plan_request(*tenants, max_concurrency=5), "platform")
    with running_scheduler(app, executors):
        wait_until(
            lambda: app.describe_plan(created.plan_id).status == PlanStatus.COMPLETED, 120, "done"
        )
    runs = [run for task_id in created.task_ids for run in runs_of(app, task_id)]
    assert max_overlap(runs) <= 5
    assert [r.position for r in sorted(runs, key=lambda r: r.fence)] == list(range(50))
    for name in names:
        assert store.hget(f"{channel}:route:{name}", "version") == "2.0.0"
        assert fleet.versions(name) == ["2.0.0", "2.0.0"]


def test_rollback_restores_the_previous_redis_values_exactly(
    app: Switchyard, fleet: Fleet, channel: str, store: redis.Redis, executors: Any
) -> None:
    key = f"{channel}:route:acme"
    store.hset(key, mapping={"version": "1.0.0", "owner": "team-a"})
    created = app.create_plan(plan_request(fleet_tenant("acme", fleet, channel)), "platform")
    task_id = created.task_ids[0]
    with running_scheduler(app, executors):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60)
        assert store.hget(key, "version") == "2.0.0"
        app.rollback_task(task_id, "sre", "customer complaints")
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.ROLLED_BACK, 60)
    assert store.hgetall(key) == {"version": "1.0.0", "owner": "team-a"}
    wait_until(lambda: fleet.versions("acme") == ["1.0.0", "1.0.0"], 10, "fleet rolled back")


def test_a_stuck_instance_fails_the_health_check_and_retry_skips_completed_stages(
    app: Switchyard, fleet: Fleet, channel: str, executors: Any
) -> None:
    stuck = fleet_tenant("acme", fleet, channel, stuck=1)
    stuck["healthCheck"] = {"interval": "10ms", "maxAttempts": 5}
    task_id = app.create_plan(plan_request(stuck), "platform").task_ids[0]
    with running_scheduler(app, executors):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.FAILED, 60)
        view = app.describe_task(task_id)
        assert view.failed_stage == "HealthCheck"
        assert view.completed_stages == ("ConfigUpdate", "Broadcast")
        app.retry_task(task_id, "sre", from_checkpoint=True)
        wait_until(lambda: app.describe_task(task_id).attempt == 2, 10)
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.FAILED, 60)
    events = list(app.events.get(task_id))
    retried = next(i for i, e in enumerate(events) if type(e).__name__ == "RetryStarted")
    started = [e.stage_name for e in events[retried:] if type(e).__name__ == "StageStarted"]
    assert started == ["HealthCheck"]
    failure = next(e for e in events if type(e).__name__ == "StageFailed").failure
    assert failure.type == "health_check"


def test_a_registry_that_is_down_falls_back_to_the_fixed_addresses(
    app: Switchyard, fleet: Fleet, channel: str, executors: Any
) -> None:
    config = fleet_tenant("acme", fleet, channel, registry={"kind": "dns", "name": "gw.invalid"})
    task_id = app.create_plan(plan_request(config), "platform").task_ids[0]
    with running_scheduler(app, executors):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 60)
    assert "Completed" in event_names(app, task_id)
    assert fleet.versions("acme") == ["2.0.0", "2.0.0"]
