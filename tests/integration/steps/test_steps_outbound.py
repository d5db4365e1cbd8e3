"""The steps' HTTP client checks every connection against the outbound policy: a host
that resolves to a refused address fails its step as fatal (`url.refused`) before any
connection, and an allowed one is reached at the very address that was checked, with
its own name in the Host header and as the name its TLS certificate is checked for."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import httpx
import pytest
import redis
import trustme

from switchyard.adapters.steps import build_executors
from switchyard.adapters.steps.outbound import checked_client, system_resolve
from switchyard.application.ports import StepContext, StepExecutor, StepFailed
from switchyard.domain.outbound import Address, OutboundPolicy
from switchyard.domain.values import FailureType
from tests.support.steps import StatusServer, health, step

STRICT = OutboundPolicy()
LOCAL = OutboundPolicy().with_loopback()


class HostHandler(BaseHTTPRequestHandler):
    """Records each request's Host header and answers 200."""

    def do_GET(self) -> None:
        """Record the Host header, then answer."""
        cast(HostServer, self.server).hosts.append(self.headers["Host"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class HostServer(ThreadingHTTPServer):
    """A local server that records the Host header of what it is sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), HostHandler)
        self.hosts: list[str] = []
        self.port = int(self.server_address[1])


def serving(server: HostServer) -> Iterator[HostServer]:
    """Run the server until the test ends."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def host_server() -> Iterator[HostServer]:
    """A running host-recording server."""
    yield from serving(HostServer())


@pytest.fixture()
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture()
def tls_server(ca: trustme.CA) -> Iterator[HostServer]:
    """A running host-recording server over TLS, its certificate for gw.acme.test only."""
    server = HostServer()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("gw.acme.test").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from serving(server)


class FakeDns:
    """A resolver that answers from a table and counts what it was asked."""

    def __init__(self, **names: list[str]) -> None:
        self.names = {name.replace("_", "."): values for name, values in names.items()}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[Address]:
        """The table's addresses for the host."""
        self.asked.append(host)
        return [ipaddress.ip_address(value) for value in self.names[host]]


def executors_on(client: redis.Redis, http: httpx.Client) -> dict[str, StepExecutor]:
    """The executors on this HTTP client, with a sleep that must not be needed."""
    return build_executors(client, http, sleep=lambda seconds: pytest.fail("no poll is due"))


def assert_refused(failure: StepFailed) -> None:
    """The failure is the policy's: fatal, with the code url.refused."""
    assert failure.type == FailureType.FATAL
    assert failure.details["code"] == "url.refused"


def test_a_name_resolving_to_metadata_fails_the_http_step_without_a_connection(
    client: redis.Redis, context: StepContext, status_server: StatusServer
) -> None:
    dns = FakeDns(gw_acme_internal=["10.0.0.7", "169.254.169.254"])
    with checked_client(LOCAL, timeout=2.0, resolve=dns) as http:
        call = step("http-request", url="http://gw.acme.internal:8080/switch")
        with pytest.raises(StepFailed) as failure:
            executors_on(client, http)["http-request"].run(call, context)
    assert_refused(failure.value)
    assert failure.value.target == "gw.acme.internal:8080"
    assert dns.asked == ["gw.acme.internal"]


def test_loopback_fails_the_http_step_unless_allowed(
    client: redis.Redis, context: StepContext, status_server: StatusServer
) -> None:
    port = status_server.server_address[1]
    for url in (f"http://localhost:{port}/status/200", f"{status_server.base}/status/200"):
        with checked_client(STRICT, timeout=2.0) as http, pytest.raises(StepFailed) as failure:
            executors_on(client, http)["http-request"].run(step("http-request", url=url), context)
        assert_refused(failure.value)
    assert status_server.requests == []
    with checked_client(LOCAL, timeout=2.0) as http:
        call = step("http-request", url=f"http://localhost:{port}/status/200")
        assert executors_on(client, http)["http-request"].run(call, context) == {"status": 200}
    assert status_server.requests == [("GET", "/status/200", b"")]


def test_the_checked_address_is_the_one_reached_with_the_hosts_name(
    client: redis.Redis, context: StepContext, host_server: HostServer
) -> None:
    dns = FakeDns(gw_acme_test=["127.0.0.1"])
    with checked_client(LOCAL, timeout=2.0, resolve=dns) as http:
        call = step("http-request", url=f"http://gw.acme.test:{host_server.port}/")
        assert executors_on(client, http)["http-request"].run(call, context) == {"status": 200}
    assert host_server.hosts == [f"gw.acme.test:{host_server.port}"]
    assert dns.asked == ["gw.acme.test"]


def test_a_refused_instance_fails_the_health_check_at_once(
    client: redis.Redis, context: StepContext, status_server: StatusServer
) -> None:
    port = status_server.server_address[1]
    dns = FakeDns(gw_acme_internal=["fd00:ec2::254"])
    for instance in (f"localhost:{port}", "gw.acme.internal:8080"):
        check = health([instance])
        with (
            checked_client(STRICT, timeout=2.0, resolve=dns) as http,
            pytest.raises(StepFailed) as failure,
        ):
            executors_on(client, http)["health-check"].run(check, context)
        assert_refused(failure.value)
        assert failure.value.details["refused"] == instance
    assert status_server.requests == []


def test_the_system_resolver_gives_localhost_its_loopback_addresses() -> None:
    found = system_resolve("localhost", 80)
    assert found and all(address.is_loopback for address in found)
    assert STRICT.refusal("localhost", found) is not None
    assert LOCAL.refusal("localhost", found) is None


def test_tls_is_checked_against_the_hosts_name_not_the_checked_address(
    client: redis.Redis, context: StepContext, tls_server: HostServer, ca: trustme.CA
) -> None:
    dns = FakeDns(gw_acme_test=["127.0.0.1"], other_acme_test=["127.0.0.1"])
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    with checked_client(LOCAL, timeout=2.0, resolve=dns, verify=trusted) as http:
        executors = executors_on(client, http)
        call = step("http-request", url=f"https://gw.acme.test:{tls_server.port}/")
        assert executors["http-request"].run(call, context) == {"status": 200}
        other = step("http-request", url=f"https://other.acme.test:{tls_server.port}/")
        with pytest.raises(StepFailed) as failure:
            executors["http-request"].run(other, context)
    assert failure.value.type == FailureType.IO
    assert isinstance(failure.value.__cause__, httpx.ConnectError)
    assert tls_server.hosts == [f"gw.acme.test:{tls_server.port}"]
