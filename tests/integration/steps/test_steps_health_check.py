"""The `health-check` step against a simulated fleet: it passes once every instance
reports the version, fails on a stuck one, stops at the stage's timeout, and finds
instances through a registry or, when that fails, the fixed endpoints; it records what each
instance's last poll found, passed or failed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis

from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.steps import build_executors
from switchyard.adapters.steps.health_check import HealthCheck
from switchyard.adapters.steps.resolvers import DEGRADED_RESOLUTIONS, DnsResolver
from switchyard.application.ports import StepContext, StepExecutor, StepFailed
from switchyard.application.stages import StageRunner
from switchyard.domain.healthcheck import InstanceReport, recorded_reports
from switchyard.domain.values import FailureType, StageDefinition
from tests.support.clock import FakeClock
from tests.support.steps import DEADLINE, broadcast, health
from tests.support.waiting import wait_until


class StaticResolver:
    """A registry that names the fixed endpoints it was given."""

    def __init__(self, endpoints: Sequence[str]) -> None:
        self._endpoints = list(endpoints)

    def resolve(self, registry: Mapping[str, Any]) -> list[str]:
        """The fixed endpoints."""
        return list(self._endpoints)


def test_health_check_passes_once_all_instances_report_the_version(
    client: redis.Redis,
    http: httpx.Client,
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    channel: str,
    context: StepContext,
    tenant: str,
) -> None:
    endpoints = fleet.add_tenant(tenant, instances=3)
    check = health(endpoints, interval=0.02, maxAttempts=500)
    # Really waits between attempts: the fleet switches while the check polls.
    polling = build_executors(client, http)["health-check"]

    broadcast(executors, channel, context)
    result = polling.run(check, context)

    assert result["instances"] == endpoints
    assert result["attempts"] >= 1
    assert fleet.versions(tenant) == ["2.0.0"] * 3


def test_health_check_records_what_each_instance_reported_and_when(
    http: httpx.Client,
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    channel: str,
    context: StepContext,
    tenant: str,
) -> None:
    endpoints = fleet.add_tenant(tenant, instances=2)
    polled_at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    pinned = HealthCheck(http, lambda _: None, {}, now=lambda: polled_at)

    broadcast(executors, channel, context)
    wait_until(lambda: fleet.versions(tenant) == ["2.0.0"] * 2, DEADLINE, "the fleet switches")
    result = pinned.run(health(endpoints), context)

    assert recorded_reports(result) == [
        InstanceReport(instance, "2.0.0", polled_at, matched=True) for instance in endpoints
    ]
    assert result["reports"][0]["checkedAt"] == "2026-11-02T09:30:00+00:00"


def test_a_failed_health_check_records_the_versions_it_saw_in_its_details(
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    context: StepContext,
    refused_port: int,
    tenant: str,
) -> None:
    (stuck,) = fleet.add_tenant(tenant, instances=1)  # reports 1.0.0 for good
    unreachable = f"127.0.0.1:{refused_port}"

    with pytest.raises(StepFailed) as failure:
        executors["health-check"].run(health([stuck, unreachable], maxAttempts=2), context)

    found = {r.instance: r for r in recorded_reports(failure.value.details)}
    assert (found[stuck].version, found[stuck].matched) == ("1.0.0", False)
    assert found[stuck].checked_at is not None and found[stuck].checked_at.tzinfo is not None
    assert (found[unreachable].version, found[unreachable].matched) == (None, False)
    assert found[unreachable].problem is not None


def test_health_check_fails_after_max_attempts_when_an_instance_is_stuck(
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    channel: str,
    context: StepContext,
    sleeps: list[float],
    tenant: str,
) -> None:
    stuck, *switching = fleet.add_tenant(tenant, instances=3, stuck=1)
    broadcast(executors, channel, context)
    wait_until(lambda: fleet.versions(tenant).count("2.0.0") == 2, DEADLINE, "two instances switch")

    with pytest.raises(StepFailed) as failure:
        executors["health-check"].run(health([stuck, *switching], maxAttempts=4), context)

    assert failure.value.type == FailureType.HEALTH_CHECK
    assert set(failure.value.details["lagging"]) == {stuck}
    assert sleeps == [0.01] * 3


def test_health_check_stops_polling_at_the_stage_timeout(
    client: redis.Redis, http: httpx.Client, fleet: Fleet, context: StepContext, tenant: str
) -> None:
    (never_switched,) = fleet.add_tenant(tenant, instances=1)  # reports 1.0.0 for good
    clock = FakeClock()
    stages = StageRunner(
        build_executors(client, http, sleep=clock.sleep), sleep=clock.sleep, monotonic=clock
    )
    poll = health([never_switched], interval="3s", maxAttempts=10)  # 27 s of waiting
    run = stages.run(StageDefinition("HealthCheck", (poll,), timeout_seconds=5), context)
    assert run.failure is not None and run.failure.type == FailureType.TIMEOUT
    assert clock.slept == [3.0]  # polls at 0 and 3 s; the next, at 6 s, would pass 5 s
    assert clock.now <= 5


def test_health_check_counts_an_unreachable_instance_as_not_yet(
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    context: StepContext,
    refused_port: int,
    tenant: str,
) -> None:
    endpoints = [*fleet.add_tenant(tenant, instances=1), f"127.0.0.1:{refused_port}"]

    with pytest.raises(StepFailed) as failure:
        executors["health-check"].run(health(endpoints, version="1.0.0"), context)

    assert failure.value.type == FailureType.HEALTH_CHECK
    assert set(failure.value.details["lagging"]) == {f"127.0.0.1:{refused_port}"}


@pytest.mark.parametrize(
    "registry",
    [
        {"kind": "dns", "name": "switchyard-test.invalid", "port": 80},
        {"kind": "no-such-registry"},
    ],
    ids=["registry-fails", "unknown-kind"],
)
def test_health_check_falls_back_to_fixed_endpoints_when_the_registry_fails(
    executors: dict[str, StepExecutor],
    fleet: Fleet,
    context: StepContext,
    registry: dict[str, Any],
    tenant: str,
) -> None:
    endpoints = fleet.add_tenant(tenant, instances=2)
    degraded = DEGRADED_RESOLUTIONS.value

    result = executors["health-check"].run(health(endpoints, "1.0.0", registry=registry), context)

    assert result["instances"] == endpoints
    assert DEGRADED_RESOLUTIONS.value == degraded + 1


def test_health_check_uses_the_registry_when_it_answers(
    client: redis.Redis, http: httpx.Client, fleet: Fleet, context: StepContext, tenant: str
) -> None:
    registered = fleet.add_tenant(tenant, instances=2)
    resolvers = {"fixed": StaticResolver(registered)}
    executor = build_executors(client, http, resolvers=resolvers)["health-check"]
    degraded = DEGRADED_RESOLUTIONS.value

    result = executor.run(health([], "1.0.0", registry={"kind": "fixed"}), context)

    assert result["instances"] == registered
    assert DEGRADED_RESOLUTIONS.value == degraded


def test_health_check_with_no_instance_is_fatal(
    executors: dict[str, StepExecutor], context: StepContext
) -> None:
    with pytest.raises(StepFailed) as failure:
        executors["health-check"].run(health([]), context)
    assert failure.value.type == FailureType.FATAL


def test_dns_resolver_gives_host_port_pairs() -> None:
    assert "127.0.0.1:8080" in DnsResolver().resolve({"name": "127.0.0.1", "port": 8080})
    assert DnsResolver().resolve({"name": "127.0.0.1"}) == ["127.0.0.1"]
