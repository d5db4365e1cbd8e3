"""What the step tests run on: the simulated fleet switches on a broadcast and serves
hundreds of instances, and the embedded Redis starts, answers and stops."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.embedded.redis import start_redis
from switchyard.application.ports import StepContext, StepExecutor
from tests.support.steps import DEADLINE, broadcast, health
from tests.support.waiting import wait_until


def test_fleet_switches_on_broadcast_and_back_on_a_rollback_to_no_version(
    client: redis.Redis, fleet: Fleet, channel: str, tenant: str
) -> None:
    fleet.add_tenant(tenant, instances=2)
    fleet.add_tenant(f"{tenant}-b", instances=1)

    client.publish(channel, json.dumps({"tenantId": tenant, "version": "2.0.0"}))
    wait_until(lambda: fleet.versions(tenant) == ["2.0.0"] * 2, DEADLINE, "the tenant switches")
    assert fleet.versions(f"{tenant}-b") == ["1.0.0"]

    client.publish(channel, json.dumps({"tenantId": tenant, "version": None}))
    wait_until(lambda: fleet.versions(tenant) == ["1.0.0"] * 2, DEADLINE, "the tenant rolls back")


def test_fleet_serves_hundreds_of_instances(
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    channel: str,
    context: StepContext,
    tenant: str,
) -> None:
    endpoints = fleet.add_tenant(tenant, instances=300)
    broadcast(executors, channel, context)
    wait_until(lambda: set(fleet.versions(tenant)) == {"2.0.0"}, DEADLINE, "all 300 switch")

    result = executors["health-check"].run(health(endpoints, maxAttempts=1), context)

    assert len(set(result["instances"])) == 300


def test_embedded_redis_starts_answers_and_stops(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis")
    with redis.Redis.from_url(server.url) as conn:
        assert conn.ping()
    server.stop()
    assert server.process.poll() is not None
