"""The outbound policy: metadata and link-local always refused, loopback and unspecified
unless allowed, private ranges allowed; and plan validation naming each refused field."""

from __future__ import annotations

import ipaddress

import pytest

from switchyard.adapters.settings import Settings, settings_invalid
from switchyard.adapters.steps.recipes import load_recipes
from switchyard.domain.errors import PlanInvalid
from switchyard.domain.outbound import OutboundPolicy, host_of
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.validation import validate_plan_request
from tests.support.builders import plan_request, tenant

STRICT = OutboundPolicy()
LOCAL = OutboundPolicy().with_loopback()
SERVICE_TYPES = StageFactory(load_recipes()).service_types()

METADATA = [
    "169.254.169.254",
    "169.254.10.1",
    "fe80::1",
    "[fe80::1%25eth0]",
    "fd00:ec2::254",
    "100.100.100.200",
    "168.63.129.16",
    "metadata.google.internal",
    "METADATA.GOOGLE.INTERNAL.",
    "metadata.goog",
    "instance-data",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
    "2852039166",
    "0xa9.0xfe.0xa9.0xfe",
    "224.0.0.1",
    "255.255.255.255",
]
"""Hosts no allow-list opens: metadata, link-local (also inside IPv6 and in legacy forms)."""

LOCAL_HOSTS = [
    "127.0.0.1",
    "127.1.2.3",
    "::1",
    "[::1]",
    "localhost",
    "LocalHost.",
    "gw.localhost",
    "0.0.0.0",
    "::",
    "::ffff:127.0.0.1",
    "2130706433",
    "0x7f.1",
]
"""Hosts that reach the local machine."""

PRIVATE_AND_PUBLIC = [
    "10.0.4.12",
    "172.16.0.9",
    "192.168.1.1",
    "100.64.0.1",
    "fd12:3456::1",
    "93.184.216.34",
    "2606:2800::1",
    "gw-1.acme.internal",
    "acme-2.example.net",
]
"""Hosts the policy allows by default: the fleet's private network, and the internet."""


@pytest.mark.parametrize("host", METADATA)
def test_metadata_and_link_local_are_always_refused(host: str) -> None:
    wide_open = OutboundPolicy.parse(["0.0.0.0/0", "::/0", "169.254.0.0/16", "fe80::/10"])
    assert STRICT.refusal(host) is not None
    assert wide_open.with_loopback().refusal(host) is not None


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_the_local_machine_is_refused_unless_allowed(host: str) -> None:
    allowed = OutboundPolicy.parse(["127.0.0.0/8", "::1", "::", "0.0.0.0/8", "localhost"])
    assert STRICT.refusal(host) is not None
    assert allowed.refusal(host) is None


@pytest.mark.parametrize("host", PRIVATE_AND_PUBLIC)
def test_private_and_public_hosts_are_allowed(host: str) -> None:
    assert STRICT.refusal(host) is None


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    private, metadata = ipaddress.ip_address("10.0.0.7"), ipaddress.ip_address("169.254.169.254")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert STRICT.refusal("gw.acme.internal", [private]) is None
    assert STRICT.refusal("gw.acme.internal", [private, metadata]) is not None
    assert STRICT.refusal("gw.acme.internal", [private, loopback]) is not None
    assert LOCAL.refusal("gw.acme.internal", [private, loopback]) is None


def test_an_allowed_name_lets_its_addresses_through_but_never_metadata() -> None:
    policy = OutboundPolicy.parse(["gw.acme.internal"])
    loopback, metadata = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("169.254.169.254")
    assert policy.refusal("gw.acme.internal", [loopback]) is None
    assert policy.refusal("gw.acme.internal", [metadata]) is not None
    assert policy.refusal("other.acme.internal", [loopback]) is not None


@pytest.mark.parametrize("entry", ["not a host!", "10.0.0.0/33", "http://gw/", ""])
def test_parse_refuses_an_entry_that_is_no_address_network_or_name(entry: str) -> None:
    with pytest.raises(ValueError):
        OutboundPolicy.parse([entry])


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("gw-1:8080", "gw-1"),
        ("10.0.0.7", "10.0.0.7"),
        ("[::1]:8080", "::1"),
        ("::1", "::1"),
        ("http://user@169.254.169.254:80/latest", "169.254.169.254"),
        ("https://acme.example.net/health", "acme.example.net"),
    ],
)
def test_host_of_an_endpoint(target: str, host: str) -> None:
    assert host_of(target) == host


def test_settings_read_outbound_allow_as_a_comma_separated_list() -> None:
    settings = Settings(database_url=None, outbound_allow=" 10.9.0.0/16, gw.local ,")
    assert settings.outbound_allow == ("10.9.0.0/16", "gw.local")
    assert settings.outbound_policy() == OutboundPolicy.parse(["10.9.0.0/16", "gw.local"])
    assert settings.with_loopback().outbound_policy().refusal("127.0.0.1") is None
    assert settings.outbound_policy().refusal("127.0.0.1") is not None


def test_settings_refuse_a_bad_outbound_allow_entry() -> None:
    with pytest.raises(ValueError) as info:
        Settings(database_url=None, outbound_allow="10.0.0.0/8,not a host!")
    problems = settings_invalid(info.value).problems  # type: ignore[arg-type]
    assert [(p.field, p.code) for p in problems] == [("OUTBOUND_ALLOW", "value_error")]


class TestPlanValidation:
    def refused(self, raw: dict[str, object], policy: OutboundPolicy = STRICT) -> set[str]:
        with pytest.raises(PlanInvalid) as info:
            validate_plan_request(raw, SERVICE_TYPES, policy)
        return {p.field for p in info.value.problems if p.code == "url.refused"}

    def test_names_each_refused_endpoint(self) -> None:
        endpoints = ["10.0.0.7:80", "169.254.169.254", "http://169.254.169.254/latest/meta-data"]
        raw = plan_request(tenant(endpoints=endpoints), tenant("globex", endpoints=["[::1]:80"]))
        assert self.refused(raw) == {
            "tenants[0].endpoints[1]",
            "tenants[0].endpoints[2]",
            "tenants[1].endpoints[0]",
        }

    def test_names_a_refused_dns_registry_and_url_override(self) -> None:
        raw = plan_request(
            tenant(
                endpoints=["gw-1:80"],
                registry={"kind": "dns", "name": "metadata.google.internal"},
                overrides={"route_key": "http://[fd00:ec2::254]/"},
            )
        )
        assert self.refused(raw, LOCAL) == {
            "tenants[0].registry.name",
            "tenants[0].overrides.route_key",
        }

    def test_loopback_passes_when_allowed(self) -> None:
        raw = plan_request(tenant(endpoints=["127.0.0.1:18081", "http://localhost:9/x"]))
        assert self.refused(raw) == {"tenants[0].endpoints[0]", "tenants[0].endpoints[1]"}
        assert validate_plan_request(raw, SERVICE_TYPES, LOCAL).tenants[0].tenant_id == "acme"
