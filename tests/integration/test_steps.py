"""Step executors on a real Redis (embedded unless REDIS_URL is set) and real local HTTP servers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import httpx
import pytest
import redis
import redis.exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.embedded.redis import start_redis
from switchyard.adapters.steps import build_executors, errors
from switchyard.adapters.steps.errors import ERROR_TABLE, map_step_error
from switchyard.adapters.steps.resolvers import DEGRADED_RESOLUTIONS, DnsResolver
from switchyard.application.ports import StepContext, StepExecutor, StepFailed
from switchyard.application.stages import StageRunner
from switchyard.domain.values import FailureType, StageDefinition, StepDefinition
from tests.schedulers import wait_until

DEADLINE = 10.0
"""Seconds before an awaited condition counts as unseen."""


# -- fixtures -------------------------------------------------------------------


@pytest.fixture()
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis client that answers text."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as conn:
        yield conn


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    """An HTTP client."""
    with httpx.Client() as conn:
        yield conn


@pytest.fixture(scope="module")
def channel() -> str:
    """A channel of the module's own, so test runs sharing a Redis do not hear each other."""
    return f"switchyard:test:{uuid4().hex}"


@pytest.fixture(scope="module")
def fleet(redis_url: str, channel: str) -> Iterator[Fleet]:
    """A simulated fleet listening on the module's channel; each test has its own tenants."""
    with Fleet(redis_url, channel=channel, initial_version="1.0.0") as simulated:
        yield simulated


@pytest.fixture()
def tenant() -> str:
    """A tenant of the test's own in the shared fleet."""
    return f"tenant-{uuid4().hex[:8]}"


@pytest.fixture()
def sleeps() -> list[float]:
    """The waits the health check asked for (it never really waits in these tests)."""
    return []


@pytest.fixture()
def executors(
    client: redis.Redis, http: httpx.Client, sleeps: list[float]
) -> dict[str, StepExecutor]:
    """Every executor, with a sleep that records instead of waiting."""
    return build_executors(client, http, sleep=sleeps.append)


@pytest.fixture()
def context(tenant: str) -> StepContext:
    """A task switching the test's tenant to 2.0.0."""
    return StepContext(uuid4(), uuid4(), tenant_id=tenant, target_version="2.0.0", fence=1)


class Subscriber:
    """A confirmed subscription to a channel, read with a deadline."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        self.pubsub.subscribe(channel)
        assert self.next(type_="subscribe") is not None

    def next(self, type_: str = "message") -> Any:
        """The next message of that type, or None past the deadline."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.1)
            if message is not None and message["type"] == type_:
                return message["data"]
        return None


@pytest.fixture()
def subscriber(client: redis.Redis, channel: str) -> Iterator[Subscriber]:
    """A subscriber on the test's channel."""
    sub = Subscriber(client, channel)
    yield sub
    sub.pubsub.close()


class StatusHandler(BaseHTTPRequestHandler):
    """GET|POST|DELETE /status/<code> answers that code; /slow answers once released."""

    def handle_any(self) -> None:
        """Record the request, then answer it."""
        server = cast(StatusServer, self.server)
        length = int(self.headers.get("Content-Length") or 0)
        server.requests.append((self.command, self.path, self.rfile.read(length)))
        if self.path == "/slow":
            server.release.wait(DEADLINE)
        code = int(self.path.rpartition("/")[2]) if self.path.startswith("/status/") else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = handle_any

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class StatusServer(ThreadingHTTPServer):
    """A local HTTP server answering the status code its path names."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StatusHandler)
        self.requests: list[tuple[str, str, bytes]] = []
        self.release = threading.Event()
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def running_status_server() -> Iterator[StatusServer]:
    """A status server for the module."""
    server = StatusServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture()
def status_server(running_status_server: StatusServer) -> StatusServer:
    """The module's status server, with no request recorded yet."""
    running_status_server.requests.clear()
    return running_status_server


@pytest.fixture()
def refused_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class StaticResolver:
    """A registry that names the fixed endpoints it was given."""

    def __init__(self, endpoints: Sequence[str]) -> None:
        self._endpoints = list(endpoints)

    def resolve(self, registry: Mapping[str, Any]) -> list[str]:
        """The fixed endpoints."""
        return list(self._endpoints)


def step(kind: str, **params: Any) -> StepDefinition:
    """A step definition."""
    return StepDefinition(kind=kind, params=params)


# -- redis-write and redis-publish ----------------------------------------------


def test_redis_write_records_previous_values_and_undo_restores_exactly(
    executors: dict[str, StepExecutor], client: redis.Redis, context: StepContext
) -> None:
    key = f"route:{uuid4().hex}"
    client.hset(key, mapping={"version": "1.0.0", "other": "kept"})
    write = step("redis-write", key=key, fields={"version": "2.0.0", "planId": "p1"})

    recorded = executors["redis-write"].run(write, context)

    assert recorded["previous"] == {"version": "1.0.0", "planId": None}
    assert client.hgetall(key) == {"version": "2.0.0", "planId": "p1", "other": "kept"}
    executors["redis-write"].undo(write, json.loads(json.dumps(recorded)), context)
    assert client.hgetall(key) == {"version": "1.0.0", "other": "kept"}


def test_redis_write_rerun_after_a_crash_keeps_the_values_from_before_the_task(
    executors: dict[str, StepExecutor], client: redis.Redis, context: StepContext
) -> None:
    # Lost original: a re-run must not record the task's own write as "previous".
    key = f"route:{uuid4().hex}"
    client.hset(key, "version", "1.0.0")
    write = step("redis-write", key=key, fields={"version": "2.0.0"})

    first = executors["redis-write"].run(write, context)
    again = executors["redis-write"].run(write, context)

    assert again == first
    executors["redis-write"].undo(write, again, context)
    assert client.hgetall(key) == {"version": "1.0.0"}
    # After the undo, a new run starts from what is there now.
    assert executors["redis-write"].run(write, context)["previous"] == {"version": "1.0.0"}


def test_redis_write_undo_announces_the_restored_version(
    executors: dict[str, StepExecutor],
    client: redis.Redis,
    context: StepContext,
    subscriber: Subscriber,
    channel: str,
) -> None:
    key = f"route:{uuid4().hex}"
    client.hset(key, "version", "1.0.0")
    announce = {"channel": channel, "message": {"tenantId": "tenant-a", "taskId": "t1"}}
    write = step("redis-write", key=key, fields={"version": "2.0.0"}, announceOnUndo=announce)

    executors["redis-write"].undo(write, executors["redis-write"].run(write, context), context)

    notice = json.loads(subscriber.next())
    assert notice == {"tenantId": "tenant-a", "taskId": "t1", "version": "1.0.0", "rollback": True}


def test_redis_write_undo_of_a_first_write_deletes_and_announces_no_version(
    executors: dict[str, StepExecutor],
    client: redis.Redis,
    context: StepContext,
    subscriber: Subscriber,
    channel: str,
) -> None:
    key = f"route:{uuid4().hex}"
    announce = {"channel": channel, "message": {"tenantId": "tenant-a"}}
    write = step("redis-write", key=key, fields={"version": "2.0.0"}, announceOnUndo=announce)

    executors["redis-write"].undo(write, executors["redis-write"].run(write, context), context)

    assert client.exists(key) == 0
    assert json.loads(subscriber.next()) == {
        "tenantId": "tenant-a",
        "version": None,
        "rollback": True,
    }


def test_redis_steps_on_an_unreachable_redis_fail_with_io(
    http: httpx.Client, context: StepContext, refused_port: int
) -> None:
    no_retry = Retry(NoBackoff(), retries=0)
    with redis.Redis(port=refused_port, socket_connect_timeout=1, retry=no_retry) as down:
        executors = build_executors(down, http)
        for executor, definition in [
            (executors["redis-write"], step("redis-write", key="k", fields={"version": "2"})),
            (executors["redis-publish"], step("redis-publish", channel="c", message={"a": 1})),
        ]:
            with pytest.raises(StepFailed) as failure:
                executor.run(definition, context)
            assert (failure.value.type, failure.value.target) == (FailureType.IO, "redis")
            assert isinstance(failure.value.__cause__, rx.ConnectionError)


def test_redis_write_without_fields_is_fatal(
    executors: dict[str, StepExecutor], context: StepContext
) -> None:
    with pytest.raises(StepFailed) as failure:
        executors["redis-write"].run(step("redis-write", key="k", fields={}), context)
    assert failure.value.type == FailureType.FATAL


def test_redis_publish_reaches_a_subscriber(
    executors: dict[str, StepExecutor],
    context: StepContext,
    subscriber: Subscriber,
    channel: str,
) -> None:
    message = {"tenantId": "tenant-a", "version": "2.0.0"}
    publish = step("redis-publish", channel=channel, message=message)

    assert executors["redis-publish"].run(publish, context) == {"receivers": 1}
    assert json.loads(subscriber.next()) == message
    executors["redis-publish"].undo(publish, {"receivers": 1}, context)
    # Duplicate check without waiting for silence: the next message must be the sentinel.
    sentinel = step("redis-publish", channel=channel, message={"sentinel": True})
    executors["redis-publish"].run(sentinel, context)
    assert json.loads(subscriber.next()) == {"sentinel": True}


# -- health-check ---------------------------------------------------------------


def health(endpoints: list[str], version: str = "2.0.0", **params: Any) -> StepDefinition:
    """A health-check step on the given endpoints."""
    defaults = {"registry": None, "interval": 0.01, "maxAttempts": 3}
    return step(
        "health-check", endpoints=endpoints, expectedVersion=version, **{**defaults, **params}
    )


def broadcast(executors: dict[str, StepExecutor], channel: str, context: StepContext) -> None:
    """Publish the switch notice to the fleet, as the Broadcast stage does."""
    message = {"tenantId": context.tenant_id, "version": "2.0.0"}
    executors["redis-publish"].run(step("redis-publish", channel=channel, message=message), context)


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


class FakeClock:
    """A monotonic clock that only the sleeps it is given move forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and let that much time pass."""
        self.slept.append(seconds)
        self.now += seconds


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


# -- http-request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("/status/200", 200),
        ("/status/204", 204),
        ("/status/404", FailureType.CLIENT_ERROR),
        ("/status/429", FailureType.RATE_LIMITED),
        ("/status/500", FailureType.IO),
        ("/status/503", FailureType.IO),
        ("/slow", FailureType.TIMEOUT),
    ],
)
def test_http_request_maps_the_answer(
    executors: dict[str, StepExecutor],
    status_server: StatusServer,
    context: StepContext,
    path: str,
    outcome: int | FailureType,
) -> None:
    call = step("http-request", url=status_server.base + path, timeout=0.2)
    if isinstance(outcome, int):
        assert executors["http-request"].run(call, context) == {"status": outcome}
        return
    with pytest.raises(StepFailed) as failure:
        executors["http-request"].run(call, context)
    assert failure.value.type == outcome
    assert failure.value.target == status_server.base.removeprefix("http://")


def test_http_request_on_a_refused_connection_fails_with_io(
    executors: dict[str, StepExecutor], context: StepContext, refused_port: int
) -> None:
    call = step("http-request", url=f"http://127.0.0.1:{refused_port}/x")
    with pytest.raises(StepFailed) as failure:
        executors["http-request"].run(call, context)
    assert (failure.value.type, failure.value.target) == (
        FailureType.IO,
        f"127.0.0.1:{refused_port}",
    )
    assert isinstance(failure.value.__cause__, httpx.ConnectError)


def test_http_request_checks_the_expected_status(
    executors: dict[str, StepExecutor], status_server: StatusServer, context: StepContext
) -> None:
    url = status_server.base + "/status/200"
    accepted = step("http-request", url=url, expectedStatus=[200, 201])
    refused = step("http-request", url=url, expectedStatus=[201])

    assert executors["http-request"].run(accepted, context) == {"status": 200}
    with pytest.raises(StepFailed) as failure:
        executors["http-request"].run(refused, context)
    assert failure.value.type == FailureType.CLIENT_ERROR


def test_http_request_sends_the_body_and_undo_makes_the_compensating_call(
    executors: dict[str, StepExecutor], status_server: StatusServer, context: StepContext
) -> None:
    base = status_server.base
    call = step(
        "http-request",
        method="post",
        url=f"{base}/status/201",
        body={"version": "2.0.0"},
        undo={"method": "DELETE", "url": f"{base}/status/204"},
    )

    recorded = executors["http-request"].run(call, context)
    executors["http-request"].undo(call, recorded, context)

    assert [(m, p) for m, p, _ in status_server.requests] == [
        ("POST", "/status/201"),
        ("DELETE", "/status/204"),
    ]
    assert json.loads(status_server.requests[0][2]) == {"version": "2.0.0"}


def test_noop_does_nothing(executors: dict[str, StepExecutor], context: StepContext) -> None:
    noop = step("noop")
    assert executors["noop"].run(noop, context) == {}
    executors["noop"].undo(noop, {}, context)


# -- the error table ------------------------------------------------------------


def library_exceptions(module: Any, base: type[BaseException]) -> list[type[BaseException]]:
    """Every exception class a library module exposes that derives from `base`."""
    return [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, base)
        and cls.__module__.startswith(module.__name__.partition(".")[0])
    ]


def raised(cls: type[BaseException]) -> BaseException:
    """An instance of an exception class, built without its own constructor's arguments."""
    exc = cls.__new__(cls)
    exc.args = ("boom",)
    return exc


def test_error_table_covers_every_redis_and_httpx_request_exception() -> None:
    classes = [
        *library_exceptions(rx, rx.RedisError),
        *library_exceptions(httpx, httpx.RequestError),
        httpx.InvalidURL,
    ]
    assert len(classes) > 30
    assert [c.__name__ for c in classes if map_step_error(raised(c), "t") is None] == []


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_error_table_picks_the_most_specific_match(
    order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if order == "reversed":
        monkeypatch.setattr(errors, "ERROR_TABLE", dict(reversed(ERROR_TABLE.items())))
    cases = {
        rx.TimeoutError: FailureType.TIMEOUT,
        rx.BusyLoadingError: FailureType.IO,
        rx.AuthenticationError: FailureType.FATAL,
        rx.ReadOnlyError: FailureType.IO,
        rx.NoScriptError: FailureType.FATAL,
        rx.WatchError: FailureType.UNKNOWN,
        httpx.ConnectTimeout: FailureType.TIMEOUT,
        httpx.ConnectError: FailureType.IO,
        httpx.UnsupportedProtocol: FailureType.CLIENT_ERROR,
    }
    for cls, expected in cases.items():
        mapped = map_step_error(raised(cls), "t")
        assert mapped is not None and mapped.type == expected, cls.__name__


def test_map_step_error_ignores_unknown_exceptions() -> None:
    assert map_step_error(KeyError("nope"), "t") is None


# -- the fleet and the embedded server ------------------------------------------


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
