"""Where a tenant's instances are: a registry port, the fixed list, DNS, and degradation.

When the registry fails (or its kind is unknown, or it knows no instance), the
health check falls back to the fixed endpoints of the tenant's config, logs a
warning and counts it in DEGRADED_RESOLUTIONS.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Resolver(Protocol):
    """Finds a tenant's instances in a registry."""

    def resolve(self, registry: Mapping[str, Any]) -> list[str]:
        """The instances ("host:port" or URLs) the registry names; raise if it cannot say."""
        ...


class DnsResolver:
    """A DNS name's addresses (registry kind "dns": `name`, optional `port`)."""

    def resolve(self, registry: Mapping[str, Any]) -> list[str]:
        """Each distinct address of `name`, as "host:port" when a port is given."""
        port = registry.get("port")
        infos = socket.getaddrinfo(str(registry["name"]), port, proto=socket.IPPROTO_TCP)
        hosts = dict.fromkeys(str(info[4][0]) for info in infos)
        if port is None:
            return list(hosts)
        return [f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host in hosts]


class Counter:
    """A number that only goes up, safe to bump from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def increment(self) -> None:
        """Add one."""
        with self._lock:
            self.value += 1


DEGRADED_RESOLUTIONS = Counter()
"""How many times instances came from the fixed endpoints because the registry failed."""


def resolve_instances(
    registry: Mapping[str, Any] | None,
    endpoints: Sequence[str],
    resolvers: Mapping[str, Resolver],
) -> list[str]:
    """The registry's instances; the fixed endpoints if there is no registry or it fails."""
    if registry is None:
        return list(endpoints)
    kind = str(registry.get("kind"))
    try:
        instances = resolvers[kind].resolve(registry)
        if not instances:
            raise LookupError("the registry knows no instance")
        return instances
    except Exception as exc:
        # Degrade rather than fail: the fixed endpoints are the config's own fallback.
        log.warning(
            "registry %r failed (%s: %s); using the %d fixed endpoints",
            kind,
            type(exc).__name__,
            exc,
            len(endpoints),
        )
        DEGRADED_RESOLUTIONS.increment()
        return list(endpoints)
