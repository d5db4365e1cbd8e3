"""Fixtures of the step executors' tests: a real Redis (embedded unless REDIS_URL is set),
a simulated fleet on it, and local HTTP servers; each test module has its own channel,
fleet and status server, and each test its own tenant."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
import redis

from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.steps import build_executors
from switchyard.adapters.steps.outbound import checked_client
from switchyard.application.ports import StepContext, StepExecutor
from switchyard.domain.outbound import OutboundPolicy
from tests.support.steps import StatusServer, Subscriber


@pytest.fixture()
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis client that answers text."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as conn:
        yield conn


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    """The steps' HTTP client, its connections checked by a policy that allows the local
    machine (where the fleet and the servers are)."""
    with checked_client(OutboundPolicy().with_loopback(), timeout=5.0) as conn:
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


@pytest.fixture()
def subscriber(client: redis.Redis, channel: str) -> Iterator[Subscriber]:
    """A subscriber on the test's channel."""
    sub = Subscriber(client, channel)
    yield sub
    sub.pubsub.close()


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
