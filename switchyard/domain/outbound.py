"""Which hosts switchyard may call: the outbound policy for URLs that callers give.

Endpoints, DNS registry names and URL-valued overrides in a plan request come
from callers, so a plan could make switchyard call what only switchyard can
reach. The policy decides, for a URL's host (a name or an address) and for
each address a name resolves to:

- always refused, whatever the allow-list says: link-local addresses
  (169.254.0.0/16, fe80::/10) and the cloud metadata services (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, Azure's 168.63.129.16, and the names
  `metadata.google.internal`, `metadata.goog`, `instance-data`), multicast
  and broadcast;
- refused unless the allow-list lets them through: loopback (127.0.0.0/8,
  ::1, the names `localhost` and `*.localhost`, let through with 127.0.0.1)
  and the unspecified addresses (0.0.0.0/8, ::), which reach the local machine;
- allowed: everything else, private ranges (10/8, 172.16/12, 192.168/16,
  fc00::/7, 100.64/10) included, on purpose: a tenant's instances live on the
  private network, and refusing it would refuse the fleet itself.

The allow-list holds addresses, CIDR networks and host names. A host name in
it lets that name through, and the addresses it resolves to (but never an
always-refused one). An IPv4 address written inside IPv6 (::ffff:a.b.c.d,
64:ff9b::a.b.c.d, 2002::/16, ::a.b.c.d) is judged as the IPv4 address, and an
IPv4 address in a legacy form (`2130706433`, `0x7f.1`) as the address the
resolver reads in it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from switchyard.domain.errors import Problem

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_CODE = "url.refused"
"""The problem code of a URL, endpoint or host name the policy refuses."""

LOOPBACK = ("127.0.0.1", "::1", "localhost")
"""What `OutboundPolicy.with_loopback` adds: the local machine, for a simulated fleet."""


def _networks(*pairs: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(cidr), why) for cidr, why in pairs)


ALWAYS_REFUSED = _networks(
    ("169.254.169.254/32", "the cloud metadata service"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("fd00:ec2::254/128", "the cloud metadata service (AWS, IPv6)"),
    ("100.100.100.200/32", "the cloud metadata service (Alibaba)"),
    ("168.63.129.16/32", "the cloud platform's host endpoint (Azure)"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("255.255.255.255/32", "broadcast"),
)
"""Networks no allow-list opens, each with why, the most specific first."""

LOCAL = _networks(
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
)
"""Networks that reach the local machine: refused unless the allow-list opens them."""

METADATA_NAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
"""Host names of cloud metadata services, always refused."""

_LEGACY_IPV4 = re.compile(r"^[0-9a-fx.]+$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True)
class OutboundPolicy:
    """Which hosts and addresses switchyard may call (see the module for the rules)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutboundPolicy:
        """A policy allowing these addresses, CIDR networks and host names; ValueError on
        an entry that is none of them."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in (e.strip() for e in entries):
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?", entry):
                    raise ValueError(
                        f"{entry!r} is neither an address, a CIDR network nor a host name"
                    ) from None
                hosts.add(_name(entry))
        return cls(frozenset(hosts), tuple(networks))

    def with_loopback(self) -> OutboundPolicy:
        """This policy, allowing the local machine too (127.0.0.1, ::1, localhost)."""
        extra = OutboundPolicy.parse(LOOPBACK)
        return OutboundPolicy(self.hosts | extra.hosts, self.networks + extra.networks)

    def refusal(self, host: str, addresses: Iterable[Address] = ()) -> str | None:
        """Why the host (a name or an address literal) may not be called, or None.

        `addresses` are what the name resolved to; each is judged too.
        """
        name = _name(host)
        literal = address_of(name)
        if literal is not None:
            return self._address_refusal(literal, allowed_name=False)
        if name in METADATA_NAMES:
            return f"{name} is the cloud metadata service: always refused"
        allowed = name in self.hosts
        local_name = name == "localhost" or name.endswith(".localhost")
        if local_name and not allowed and self._address_refusal(_LOOPBACK, allowed_name=False):
            return f"{name} is loopback: refused unless OUTBOUND_ALLOW allows it"
        for address in addresses:
            reason = self._address_refusal(address, allowed_name=allowed)
            if reason is not None:
                return f"{name} resolves to {reason}"
        return None

    def _address_refusal(self, address: Address, *, allowed_name: bool) -> str | None:
        judged = embedded_ipv4(address) or address
        shown = str(address) if judged == address else f"{address} ({judged})"
        for network, why in ALWAYS_REFUSED:
            if judged in network:
                return f"{shown}, {why}: always refused"
        if allowed_name or any(judged in n or address in n for n in self.networks):
            return None
        for network, why in LOCAL:
            if judged in network:
                return f"{shown}, {why}: refused unless OUTBOUND_ALLOW allows it"
        return None


def _name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def address_of(host: str) -> Address | None:
    """The address a host literal names (legacy IPv4 forms included), or None for a name."""
    literal = host.strip("[]").split("%")[0]
    if ":" not in literal and not _LEGACY_IPV4.match(literal.lower()):
        return None  # no address form has these characters: spare the parser's two failures
    try:
        return ipaddress.ip_address(literal)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host.lower()):
        try:
            # What the system resolver (inet_aton) reads in `0x7f.1` or `2130706433`.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, compatible), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def host_of(target: str) -> str | None:
    """The host an endpoint (`host[:port]` or an http(s) URL) names, or None if it names
    none."""
    try:
        if target.startswith(("http://", "https://")):
            return urlsplit(target).hostname
        host = target.rsplit(":", 1)[0] if target.count(":") == 1 else target
        if target.startswith("[") and "]" in target:
            host = target[1 : target.index("]")]
        return host or None
    except ValueError:
        return None


def refused_targets(raw: Mapping[str, Any], policy: OutboundPolicy) -> Iterator[Problem]:
    """A `url.refused` problem, with its field path, for each endpoint, DNS registry name
    and URL-valued override of a plan request that the policy refuses."""
    tenants = raw.get("tenants")
    if not isinstance(tenants, list):
        return
    reasons: dict[str, str | None] = {}  # tenants often share hosts: each is judged once
    for index, tenant in enumerate(tenants):
        if not isinstance(tenant, Mapping):
            continue
        for field, target in _targets(tenant):
            host = host_of(target)
            if host is not None and host not in reasons:
                reasons[host] = policy.refusal(host)
            reason = None if host is None else reasons[host]
            if reason is not None:
                yield Problem(f"tenants[{index}].{field}", REFUSED_CODE, reason)


def _targets(tenant: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each place of a tenant's config that names a host to call, with its field path."""
    endpoints = tenant.get("endpoints")
    for index, endpoint in enumerate(endpoints if isinstance(endpoints, list) else ()):
        if isinstance(endpoint, str):
            yield f"endpoints[{index}]", endpoint
    registry = tenant.get("registry")
    name = registry.get("name") if isinstance(registry, Mapping) else None
    if isinstance(registry, Mapping) and registry.get("kind") == "dns" and isinstance(name, str):
        yield "registry.name", name
    overrides = tenant.get("overrides")
    for key, value in (overrides if isinstance(overrides, Mapping) else {}).items():
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            yield f"overrides.{key}", value
