"""The HTTP client of the steps: every connection checked against the outbound policy.

A plan's URLs were checked when it was recorded, but a name may resolve to
another address by the time a step calls it (DNS rebinding). So the check is
made again where the connection is opened: the network backend under httpx
resolves the host once, refuses the connection if the policy refuses the name
or any address it resolved to, and connects to those checked addresses, never
resolving again. The URL is left as it is, so the Host header, the TLS server
name, the certificate's check and the connection pool's key all stay the
host's name.

These calls never go through a proxy (the environment's proxy variables and
`.netrc` are ignored): a proxy would resolve the name itself, beyond the
policy's reach. The certificate authorities are httpx's (certifi, or
SSL_CERT_FILE / SSL_CERT_DIR when set), unless a `verify` context is given.
Redirects are not followed (httpx's default); a redirected call would be
checked the same way anyway.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from switchyard.application.ports import StepFailed
from switchyard.domain.outbound import REFUSED_CODE, Address, OutboundPolicy
from switchyard.domain.values import FailureType

Resolve = Callable[[str, int], list[Address]]
"""Resolves a host name and port to its addresses; raises OSError if it cannot."""


class AddressRefused(Exception):
    """The outbound policy refuses a host a step was about to connect to."""


def system_resolve(host: str, port: int) -> list[Address]:
    """The host's addresses, from the system resolver, in its order and without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found = dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    return list(found)


class CheckedNetwork(httpcore.NetworkBackend):
    """httpcore's network backend that resolves, checks, then connects to checked addresses."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolve: Resolve = system_resolve,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first of the host's checked addresses that answers."""
        refused = self._policy.refusal(host)
        if refused is not None:
            raise AddressRefused(refused)
        try:
            addresses = self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refused = self._policy.refusal(host, addresses)
        if refused is not None:
            raise AddressRefused(refused)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Refused: a step calls hosts, never a local socket."""
        raise AddressRefused(f"unix socket {path}: steps call hosts only")

    def sleep(self, seconds: float) -> None:
        """Wait, as the inner backend does."""
        self._inner.sleep(seconds)


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport whose connections go through `CheckedNetwork`, with no proxy."""

    def __init__(
        self,
        policy: OutboundPolicy,
        resolve: Resolve = system_resolve,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits()
        # httpx takes no network backend, so its pool is replaced by one with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=verify or httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedNetwork(policy, resolve),
        )


def checked_client(
    policy: OutboundPolicy,
    timeout: float,
    resolve: Resolve = system_resolve,
    verify: ssl.SSLContext | None = None,
) -> httpx.Client:
    """An HTTP client for the steps whose every connection the policy checks; `verify`
    replaces the certificate authorities."""
    transport = CheckedTransport(policy, resolve, verify)
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False)


def refused_step(where: str, exc: AddressRefused, target: str = "") -> StepFailed:
    """The failure of a step whose call the policy refused: fatal, as calling again is
    refused again; its details carry the code `url.refused`."""
    details = {"code": REFUSED_CODE, "refused": where, "reason": str(exc)}
    return StepFailed(FailureType.FATAL, f"{where}: {exc}", target=target, details=details)
