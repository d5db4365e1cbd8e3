"""The stage factory: a tenant's stages, built from its service type's recipe.

A recipe is data: settings with defaults (key names, channel, health path...)
and stage templates whose step parameters may name placeholders in braces.
A parameter that is exactly one placeholder (`"{endpoints}"`) takes the value
as it is (a list stays a list); placeholders inside longer strings are
formatted in. Placeholders: the tenant's fields (tenant_id, service_type,
target_version, endpoints, registry), plan_id, task_id, the recipe's settings
after the tenant's overrides (rendered first, from the other placeholders),
and the resolved health check (health_path, health_version_key,
health_interval, health_max_attempts). Health-check precedence, highest first:
the tenant's `healthCheck`, the tenant's `overrides`, the application config,
the recipe's settings, the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from switchyard.domain.healthcheck import resolve_health_check
from switchyard.domain.request import TenantConfig
from switchyard.domain.values import StageDefinition, StepDefinition

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

BASE_PLACEHOLDERS = frozenset(
    {
        "tenant_id",
        "service_type",
        "target_version",
        "endpoints",
        "registry",
        "plan_id",
        "task_id",
        "health_path",
        "health_version_key",
        "health_interval",
        "health_max_attempts",
    }
)
"""Placeholders that settings may use; stage templates may use these and the settings."""


@dataclass(frozen=True)
class ServiceTypeRecipe:
    """A service type's settings (with defaults) and its stage templates."""

    name: str
    settings: Mapping[str, Any]
    stages: tuple[StageDefinition, ...]


class StageFactory:
    """Builds stage lists from recipes; knows nothing of any one service type."""

    def __init__(
        self,
        recipes: Mapping[str, ServiceTypeRecipe],
        health_check: Mapping[str, Any] | None = None,
    ) -> None:
        self._recipes = dict(recipes)
        self._health_check = dict(health_check or {})
        # A recipe whose stages name no placeholder gives every tenant the same
        # stages (frozen values): they are shared, not rendered again per tenant.
        self._fixed = {
            name: recipe.stages
            for name, recipe in self._recipes.items()
            if not any(placeholders(step.params) for s in recipe.stages for step in s.steps)
        }

    def service_types(self) -> dict[str, frozenset[str]]:
        """Each known service type with the setting names a tenant may override."""
        return {name: frozenset(r.settings) for name, r in self._recipes.items()}

    def build(
        self, tenant: TenantConfig, plan_id: UUID, task_id: UUID
    ) -> tuple[StageDefinition, ...]:
        """The tenant's stages, its values filled in; raises KeyError on an unknown type."""
        recipe = self._recipes[tenant.service_type]
        fixed = self._fixed.get(tenant.service_type)
        if fixed is not None:
            return fixed
        settings = {**recipe.settings, **tenant.overrides}
        health = resolve_health_check(
            _health_layer(recipe.settings),
            self._health_check,
            _health_layer(tenant.overrides),
            tenant.health_check,
        )
        base: dict[str, Any] = {
            "tenant_id": tenant.tenant_id,
            "service_type": tenant.service_type,
            "target_version": tenant.target_version,
            "endpoints": list(tenant.endpoints),
            "registry": dict(tenant.registry) if tenant.registry else None,
            "plan_id": str(plan_id),
            "task_id": str(task_id),
            "health_path": health.path,
            "health_version_key": health.version_key,
            "health_interval": health.interval_seconds,
            "health_max_attempts": health.max_attempts,
        }
        # The resolved health check (in `base`) wins over the raw health settings.
        context = {**{key: render(value, base) for key, value in settings.items()}, **base}
        return tuple(_render_stage(stage, context) for stage in recipe.stages)


def _health_layer(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"path": settings.get("health_path"), "versionKey": settings.get("health_version_key")}


def _render_stage(stage: StageDefinition, context: Mapping[str, Any]) -> StageDefinition:
    steps = tuple(
        StepDefinition(kind=step.kind, params=render(step.params, context)) for step in stage.steps
    )
    return StageDefinition(name=stage.name, steps=steps, timeout_seconds=stage.timeout_seconds)


def render(template: Any, context: Mapping[str, Any]) -> Any:
    """Fill placeholders in a template (nested mappings, lists and strings)."""
    if isinstance(template, Mapping):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render(value, context) for value in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template)
    if whole:
        return context[whole.group(1)]
    return _PLACEHOLDER.sub(lambda m: str(context[m.group(1)]), template)


def placeholders(template: Any) -> set[str]:
    """The placeholder names a template uses."""
    if isinstance(template, Mapping):
        return {name for value in template.values() for name in placeholders(value)}
    if isinstance(template, list | tuple):
        return {name for value in template for name in placeholders(value)}
    return set(_PLACEHOLDER.findall(template)) if isinstance(template, str) else set()
