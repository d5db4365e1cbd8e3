"""The stage factory: built-in recipes, tenant values, health precedence, new service types."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from switchyard.adapters.steps.recipes import RecipeInvalid, load_recipes, parse_recipes
from switchyard.domain.healthcheck import health_url
from switchyard.domain.request import TenantConfig
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.values import StageDefinition

PLAN_ID = UUID("00000000-0000-4000-8000-000000000001")
TASK_ID = UUID("00000000-0000-4000-8000-000000000002")
BUILT_IN = ("blue-green-gateway", "portal", "asbc-gateway")
ENDPOINTS = ("gw-1.acme.internal:8080", "https://gw-2.acme.example/ready")
TRANSIENT_ERRORS = {
    "maxAttempts": 4,
    "exponential": {"base": "500ms", "min": "250ms", "max": "5s", "jitter": 0.2},
}
"""The built-in Redis steps' retry policy."""
HEALTH_STAGE = {
    "name": "HealthCheck",
    "steps": [
        {
            "kind": "health-check",
            "params": {
                "path": "{health_path}",
                "versionKey": "{health_version_key}",
                "interval": "{health_interval}",
                "maxAttempts": "{health_max_attempts}",
            },
        }
    ],
}


def tenant(service_type: str = "blue-green-gateway", **changes: Any) -> TenantConfig:
    values: dict[str, Any] = {
        "tenant_id": "acme",
        "service_type": service_type,
        "target_version": "2.4.1",
        "endpoints": ENDPOINTS,
        **changes,
    }
    return TenantConfig(**values)


def build(config: TenantConfig, app_health: dict[str, Any] | None = None) -> list[StageDefinition]:
    return list(StageFactory(load_recipes(), app_health).build(config, PLAN_ID, TASK_ID))


def health_params(config: TenantConfig, app_health: dict[str, Any] | None = None) -> Any:
    (step,) = build(config, app_health)[2].steps
    return step.params


class TestBuiltInServiceTypes:
    @pytest.mark.parametrize("service_type", BUILT_IN)
    def test_builds_config_update_then_broadcast_then_health_check(self, service_type: str) -> None:
        stages = build(tenant(service_type))
        assert [s.name for s in stages] == ["ConfigUpdate", "Broadcast", "HealthCheck"]
        assert [[step.kind for step in s.steps] for s in stages] == [
            ["redis-write"],
            ["redis-publish"],
            ["health-check"],
        ]

    @pytest.mark.parametrize("service_type", BUILT_IN)
    def test_fills_in_the_tenants_values(self, service_type: str) -> None:
        update, broadcast, health = build(tenant(service_type, registry={"kind": "consul"}))
        ids = {"planId": str(PLAN_ID), "taskId": str(TASK_ID)}
        assert update.steps[0].params == {
            "key": "switchyard:route:acme",
            "fields": {"version": "2.4.1", **ids},
            "announceOnUndo": {
                "channel": "switchyard:route-updates",
                "message": {"tenantId": "acme", **ids},
            },
            "retry": TRANSIENT_ERRORS,
        }
        assert broadcast.steps[0].params == {
            "channel": "switchyard:route-updates",
            "message": {"tenantId": "acme", "version": "2.4.1", **ids},
            "retry": TRANSIENT_ERRORS,
        }
        assert health.steps[0].params == {
            "endpoints": list(ENDPOINTS),
            "registry": {"kind": "consul"},
            "path": "/health",
            "versionKey": "version",
            "expectedVersion": "2.4.1",
            "interval": 3.0,
            "maxAttempts": 10,
        }

    def test_lists_each_service_type_with_its_settings(self) -> None:
        types = StageFactory(load_recipes()).service_types()
        assert set(types) == set(BUILT_IN)
        assert types["portal"] == {"route_key", "channel", "health_path", "health_version_key"}


class TestOverrides:
    def test_a_tenant_overrides_recipe_settings(self) -> None:
        overrides = {"route_key": "edge:{service_type}:{tenant_id}", "channel": "acme-updates"}
        update, broadcast, _ = build(tenant("portal", overrides=overrides))
        assert update.steps[0].params["key"] == "edge:portal:acme"
        assert broadcast.steps[0].params["channel"] == "acme-updates"

    def test_an_override_leaves_other_tenants_alone(self) -> None:
        factory = StageFactory(load_recipes())
        factory.build(tenant(overrides={"channel": "other"}), PLAN_ID, TASK_ID)
        broadcast = factory.build(tenant(), PLAN_ID, TASK_ID)[1]
        assert broadcast.steps[0].params["channel"] == "switchyard:route-updates"

    def test_a_tenant_overrides_the_recipes_health_path(self) -> None:
        params = health_params(tenant(overrides={"health_path": "/status"}))
        assert params["path"] == "/status"


class TestHealthCheckPrecedence:
    def test_defaults_when_nobody_says_otherwise(self) -> None:
        recipes = parse_recipes({"bare": {"stages": [HEALTH_STAGE]}}, "test")
        (stage,) = StageFactory(recipes).build(tenant("bare"), PLAN_ID, TASK_ID)
        assert stage.steps[0].params == {
            "path": "/health",
            "versionKey": "version",
            "interval": 3.0,
            "maxAttempts": 10,
        }

    def test_the_recipe_beats_the_defaults(self) -> None:
        body = {"settings": {"health_path": "/status", "health_version_key": "build"}}
        recipes = parse_recipes({"custom": {**body, "stages": [HEALTH_STAGE]}}, "test")
        (stage,) = StageFactory(recipes).build(tenant("custom"), PLAN_ID, TASK_ID)
        assert (stage.steps[0].params["path"], stage.steps[0].params["versionKey"]) == (
            "/status",
            "build",
        )

    def test_application_interval_and_attempts_beat_the_defaults(self) -> None:
        params = health_params(tenant(), {"interval": "5s", "maxAttempts": 4})
        assert (params["interval"], params["maxAttempts"]) == (5.0, 4)

    def test_tenant_interval_and_attempts_beat_the_application(self) -> None:
        config = tenant(health_check={"interval": "500ms", "maxAttempts": 20})
        params = health_params(config, {"interval": "5s", "maxAttempts": 4})
        assert (params["interval"], params["maxAttempts"]) == (0.5, 20)

    def test_unset_application_settings_change_nothing(self) -> None:
        app = {"interval": None, "maxAttempts": None, "path": None, "versionKey": None}
        assert health_params(tenant(), app) == health_params(tenant())

    def test_application_path_and_version_key_beat_the_recipe(self) -> None:
        params = health_params(tenant(), {"path": "/ready", "versionKey": "build"})
        assert (params["path"], params["versionKey"]) == ("/ready", "build")

    def test_tenant_overrides_beat_the_application(self) -> None:
        config = tenant(overrides={"health_path": "/status", "health_version_key": "rev"})
        params = health_params(config, {"path": "/ready", "versionKey": "build"})
        assert (params["path"], params["versionKey"]) == ("/status", "rev")

    def test_tenant_health_check_beats_tenant_overrides_and_the_application(self) -> None:
        config = tenant(
            health_check={"path": "/tenant-health", "versionKey": "release"},
            overrides={"health_path": "/status", "health_version_key": "rev"},
        )
        params = health_params(config, {"path": "/ready", "versionKey": "build"})
        assert (params["path"], params["versionKey"]) == ("/tenant-health", "release")


class TestNewServiceType:
    def test_a_recipe_adds_a_service_type_without_code(self) -> None:
        data = {
            "edge-proxy": {
                "settings": {"admin_url": "https://admin.internal/tenants/{tenant_id}"},
                "stages": [
                    {
                        "name": "Reload",
                        "timeout": 30,
                        "steps": [
                            {
                                "kind": "http-request",
                                "params": {"method": "POST", "url": "{admin_url}/reload"},
                            }
                        ],
                    }
                ],
            }
        }
        factory = StageFactory({**load_recipes(), **parse_recipes(data, "extra.yaml")})
        assert factory.service_types()["edge-proxy"] == {"admin_url"}
        (stage,) = factory.build(tenant("edge-proxy"), PLAN_ID, TASK_ID)
        assert (stage.name, stage.timeout_seconds) == ("Reload", 30)
        assert stage.steps[0].params == {
            "method": "POST",
            "url": "https://admin.internal/tenants/acme/reload",
        }

    def test_a_recipe_without_placeholders_gives_every_tenant_its_stages(self) -> None:
        data = {"quiet": {"stages": [{"name": "Noop", "steps": [{"kind": "noop"}]}]}}
        factory = StageFactory(parse_recipes(data, "extra.yaml"))
        acme = factory.build(tenant("quiet"), PLAN_ID, TASK_ID)
        globex = factory.build(tenant("quiet", tenant_id="globex"), PLAN_ID, TASK_ID)
        assert acme == globex == (StageDefinition(name="Noop", steps=acme[0].steps),)
        assert acme[0].steps[0].kind == "noop"


class TestMalformedRecipe:
    @pytest.mark.parametrize(
        "data",
        [
            ["blue-green-gateway"],
            {"x": "stages"},
            {"x": {"settings": {}}},
            {"x": {"stages": "ConfigUpdate"}},
            {"x": {"stages": [{"steps": [{"kind": "redis-write"}]}]}},
            {"x": {"stages": [{"name": "ConfigUpdate"}]}},
            {"x": {"stages": [{"name": "A", "steps": [{"kind": "k", "params": {"a": "{nope}"}}]}]}},
        ],
    )
    def test_raises_recipe_invalid(self, data: Any) -> None:
        with pytest.raises(RecipeInvalid):
            parse_recipes(data, "bad.yaml")

    @pytest.mark.parametrize(
        "data",
        [
            {"x": {"stages": [{"name": "A", "steps": ["redis-write"]}]}},
            {"x": {"stages": [{"name": "A", "steps": [{"params": {}}]}]}},
            {"x": {"stages": [{"name": "A", "steps": [{"kind": "k", "params": ["a"]}]}]}},
            {"x": {"settings": "route_key", "stages": []}},
        ],
    )
    def test_raises_recipe_invalid_for_a_malformed_step_or_settings(self, data: Any) -> None:
        with pytest.raises(RecipeInvalid):
            parse_recipes(data, "bad.yaml")

    @pytest.mark.parametrize("channel", ["{nope}", "{route_key}-updates"])
    def test_raises_recipe_invalid_for_an_unknown_settings_placeholder(self, channel: str) -> None:
        body = {"settings": {"route_key": "r", "channel": channel}, "stages": [HEALTH_STAGE]}
        with pytest.raises(RecipeInvalid):
            parse_recipes({"x": body}, "bad.yaml")

    @pytest.mark.parametrize("timeout", ["soon", -5, [30]])
    def test_raises_recipe_invalid_for_a_bad_stage_timeout(self, timeout: Any) -> None:
        with pytest.raises(RecipeInvalid):
            parse_recipes({"x": {"stages": [{**HEALTH_STAGE, "timeout": timeout}]}}, "bad.yaml")

    def test_reads_a_stage_timeout_written_as_a_duration(self) -> None:
        recipes = parse_recipes({"x": {"stages": [{**HEALTH_STAGE, "timeout": "30s"}]}}, "ok")
        assert recipes["x"].stages[0].timeout_seconds == 30.0


class TestHealthUrl:
    @pytest.mark.parametrize(
        ("endpoint", "path", "url"),
        [
            ("gw-1:8080", "/health", "http://gw-1:8080/health"),
            ("10.0.0.7", "status", "http://10.0.0.7/status"),
            ("http://gw-1:8080/ready", "/health", "http://gw-1:8080/ready"),
            ("https://gw-2.acme.example", "/health", "https://gw-2.acme.example"),
        ],
    )
    def test_uses_urls_as_they_are_and_adds_the_path_to_hosts(
        self, endpoint: str, path: str, url: str
    ) -> None:
        assert health_url(endpoint, path) == url
