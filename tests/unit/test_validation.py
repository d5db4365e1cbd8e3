"""Plan request validation: a valid request builds values; a bad one lists every problem."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.adapters.steps.recipes import load_recipes
from switchyard.application.app import Switchyard
from switchyard.domain.errors import PlanInvalid
from switchyard.domain.outbound import OutboundPolicy
from switchyard.domain.request import PlanRequest, TenantConfig
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.validation import is_well_formed_endpoint, validate_plan_request
from tests.support.builders import plan_request, tenant

SERVICE_TYPES = StageFactory(load_recipes()).service_types()
LOCAL = OutboundPolicy().with_loopback()
"""The builders' endpoints are on the local machine."""


def problems(raw: Any) -> set[tuple[str, str]]:
    with pytest.raises(PlanInvalid) as info:
        validate_plan_request(raw, SERVICE_TYPES, LOCAL)
    assert info.value.code == "plan.invalid"
    return {(p.field, p.code) for p in info.value.problems}


class TestValidRequest:
    def test_builds_the_plan_request(self) -> None:
        endpoints = ["gw-1.acme.internal:8080", "https://gw-2.acme.example"]
        raw = plan_request(
            tenant(
                endpoints=endpoints,
                overrides={"route_key": "route:{tenant_id}"},
                healthCheck={"interval": "5s"},
            ),
            tenant("globex", "portal", endpoints=["10.0.0.7"]),
            name="green rollout",
        )
        plan = validate_plan_request(raw, SERVICE_TYPES, LOCAL)
        assert isinstance(plan, PlanRequest)
        assert (plan.name, plan.max_concurrency) == ("green rollout", 2)
        assert plan.tenants[0] == TenantConfig(
            tenant_id="acme",
            service_type="blue-green-gateway",
            target_version="2.5.0",
            endpoints=tuple(endpoints),
            health_check={"interval": "5s"},
            overrides={"route_key": "route:{tenant_id}"},
        )
        assert [t.tenant_id for t in plan.tenants] == ["acme", "globex"]
        assert plan.tenants[1].endpoints == ("10.0.0.7",)

    def test_defaults_the_name_and_concurrency(self) -> None:
        plan = validate_plan_request({"tenants": [tenant()]}, SERVICE_TYPES, LOCAL)
        assert (plan.name, plan.max_concurrency) == ("plan", 1)

    def test_the_same_request_has_the_same_fingerprint(self) -> None:
        first = validate_plan_request(plan_request(tenant()), SERVICE_TYPES, LOCAL)
        again = validate_plan_request(plan_request(tenant()), SERVICE_TYPES, LOCAL)
        other = validate_plan_request(plan_request(tenant(targetVersion="9")), SERVICE_TYPES, LOCAL)
        assert first.fingerprint == again.fingerprint != other.fingerprint

    @pytest.mark.parametrize(
        "endpoint",
        ["gw-1:8080", "gw-1.acme.internal", "10.0.0.7:80", "[::1]:8080", "::1", "http://gw:81/x"],
    )
    def test_accepts_well_formed_endpoints(self, endpoint: str) -> None:
        assert is_well_formed_endpoint(endpoint)


class TestInvalidRequest:
    def test_reports_every_problem_at_once(self) -> None:
        raw = plan_request(
            tenant(serviceType="mainframe"),
            tenant(tenantId="globex", targetVersion=None, endpoints=["gw 1:80", "http://"]),
            tenant(tenantId="globex", serviceType="portal", healthCheck={"interval": "soon"}),
            tenant(tenantId="initech", overrides={"colour": "green", "channel": "{nope}"}),
            tenant(tenantId="umbrella", region="eu", healthCheck={"maxAttempts": 0, "port": 1}),
            maxConcurrency=0,
            owner="me",
        )
        assert problems(raw) == {
            ("owner", "unknown_field"),
            ("maxConcurrency", "out_of_range"),
            ("tenants[0].serviceType", "unknown_service_type"),
            ("tenants[1].targetVersion", "required"),
            ("tenants[1].endpoints[0]", "malformed_endpoint"),
            ("tenants[1].endpoints[1]", "malformed_endpoint"),
            ("tenants[2].healthCheck", "malformed_health_check"),
            ("tenants[2].tenantId", "duplicate_tenant"),
            ("tenants[3].overrides.colour", "unknown_setting"),
            ("tenants[3].overrides.channel", "unknown_placeholder"),
            ("tenants[4].region", "unknown_field"),
            ("tenants[4].healthCheck.port", "unknown_field"),
            ("tenants[4].healthCheck", "out_of_range"),
        }

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (["not", "a", "mapping"], ("", "type")),
            ({"name": "x"}, ("tenants", "required")),
            (plan_request(), ("tenants", "required")),
            (plan_request(tenants="acme"), ("tenants", "type")),
            (plan_request(tenant(), maxConcurrency="2"), ("maxConcurrency", "type")),
            (plan_request(tenant(), maxConcurrency=True), ("maxConcurrency", "type")),
            (plan_request(tenant(), name="  "), ("name", "type")),
            (plan_request(tenants=["acme"]), ("tenants[0]", "type")),
            (plan_request(tenant(tenantId=None)), ("tenants[0].tenantId", "required")),
            (plan_request(tenant(tenantId="a b")), ("tenants[0].tenantId", "malformed_tenant_id")),
            (plan_request(tenant(tenantId=7)), ("tenants[0].tenantId", "malformed_tenant_id")),
            (plan_request(tenant(targetVersion=" ")), ("tenants[0].targetVersion", "required")),
            (plan_request(tenant(targetVersion=["2"])), ("tenants[0].targetVersion", "type")),
            (plan_request(tenant(targetVersion=2.1)), ("tenants[0].targetVersion", "type")),
            (plan_request(tenant(serviceType=None)), ("tenants[0].serviceType", "required")),
            (plan_request(tenant(overrides=["x"])), ("tenants[0].overrides", "type")),
            (plan_request(tenant(endpoints=None)), ("tenants[0].endpoints", "required")),
            (plan_request(tenant(endpoints=[])), ("tenants[0].endpoints", "required")),
            (plan_request(tenant(endpoints="gw:80")), ("tenants[0].endpoints", "type")),
            *[
                (
                    plan_request(tenant(endpoints=[bad])),
                    ("tenants[0].endpoints[0]", "malformed_endpoint"),
                )
                for bad in ("gw:0", "gw:x", "1.2.3", 80, "http://gw:99999", "ftp://gw", "gw_1")
            ],
            (plan_request(tenant(healthCheck="/health")), ("tenants[0].healthCheck", "type")),
            (
                plan_request(tenant(healthCheck={"maxAttempts": "lots"})),
                ("tenants[0].healthCheck", "malformed_health_check"),
            ),
            (
                plan_request(tenant(healthCheck={"interval": 0})),
                ("tenants[0].healthCheck", "out_of_range"),
            ),
            (plan_request(tenant(registry="consul")), ("tenants[0].registry", "type")),
            (plan_request(tenant(registry={"url": "x"})), ("tenants[0].registry", "type")),
        ],
    )
    def test_reports_the_problem(self, raw: Any, expected: tuple[str, str]) -> None:
        assert problems(raw) == {expected}

    @pytest.mark.parametrize("attempts", [2.5, True])
    def test_reports_health_check_attempts_that_are_not_whole_numbers(self, attempts: Any) -> None:
        raw = plan_request(tenant(healthCheck={"maxAttempts": attempts}))
        assert problems(raw) == {("tenants[0].healthCheck", "malformed_health_check")}

    def test_reports_a_tenant_given_three_times_twice(self) -> None:
        raw = plan_request(tenant(), tenant(), tenant())
        assert problems(raw) == {
            ("tenants[1].tenantId", "duplicate_tenant"),
            ("tenants[2].tenantId", "duplicate_tenant"),
        }

    @pytest.mark.parametrize("service_type", [["portal"], {"name": "portal"}, 7])
    def test_reports_a_service_type_that_is_not_a_string(self, service_type: Any) -> None:
        assert problems(plan_request(tenant(serviceType=service_type))) == {
            ("tenants[0].serviceType", "unknown_service_type")
        }

    @pytest.mark.parametrize("endpoint", ["gw-1:", "[::1]:"])
    def test_reports_an_endpoint_with_an_empty_port(self, endpoint: str) -> None:
        assert not is_well_formed_endpoint(endpoint)


class TestCreatePlanWithABadRequest:
    def test_refuses_and_records_nothing(self, memory_app: Switchyard) -> None:
        before = memory_app.recorder.max_notification_id()
        bad = plan_request(tenant(serviceType="mainframe"), tenant(), maxConcurrency=0)
        with pytest.raises(PlanInvalid) as info:
            memory_app.create_plan(bad, actor="ops")
        assert info.value.code == "plan.invalid"
        assert {p.code for p in info.value.problems} == {
            "unknown_service_type",
            "out_of_range",
            "duplicate_tenant",
        }
        assert memory_app.recorder.max_notification_id() == before

    def test_a_valid_request_is_recorded(self, memory_app: Switchyard) -> None:
        before = memory_app.recorder.max_notification_id() or 0
        created = memory_app.create_plan(plan_request(tenant()), actor="ops")
        assert memory_app.recorder.max_notification_id() == created.sequence > before
