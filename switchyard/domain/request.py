"""A plan request as values: what the deployment platform asks switchyard to run.

Requests arrive as plain data (JSON or YAML, camelCase keys); `domain.validation`
checks them and builds these values, which are only ever valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PLAN_FIELDS = frozenset({"name", "maxConcurrency", "supersede", "tenants"})
"""The keys a plan request may have."""

TENANT_FIELDS = frozenset(
    {
        "tenantId",
        "serviceType",
        "targetVersion",
        "endpoints",
        "registry",
        "healthCheck",
        "overrides",
    }
)
"""The keys one tenant's deploy config may have."""

DEFAULT_MAX_CONCURRENCY = 1
"""Without `maxConcurrency`, a plan switches one tenant at a time."""


@dataclass(frozen=True)
class TenantConfig:
    """One tenant's deploy config: what to switch to, where its instances are."""

    tenant_id: str
    service_type: str
    target_version: str
    endpoints: tuple[str, ...]
    registry: Mapping[str, Any] | None = None
    health_check: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanRequest:
    """A validated plan request: its tenants in FIFO order and its concurrency limit.

    With `supersede`, each task cancels its tenant's older tasks that wait and
    never started, in the transaction that records the plan.
    """

    name: str
    max_concurrency: int
    tenants: tuple[TenantConfig, ...]
    fingerprint: str
    supersede: bool = False


def fingerprint(raw: Mapping[str, Any]) -> str:
    """A stable digest of a request, to tell a repeated request from a different one."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_plan_request(raw: Mapping[str, Any]) -> PlanRequest:
    """Build the values from a request that `domain.validation` found valid."""
    tenants = tuple(
        TenantConfig(
            tenant_id=t["tenantId"],
            service_type=t["serviceType"],
            target_version=t["targetVersion"],
            endpoints=tuple(t["endpoints"]),
            registry=dict(t["registry"]) if t.get("registry") else None,
            health_check=dict(t.get("healthCheck") or {}),
            overrides=dict(t.get("overrides") or {}),
        )
        for t in raw["tenants"]
    )
    return PlanRequest(
        name=str(raw.get("name") or "plan"),
        max_concurrency=int(raw.get("maxConcurrency", DEFAULT_MAX_CONCURRENCY)),
        tenants=tenants,
        fingerprint=fingerprint(raw),
        supersede=bool(raw.get("supersede", False)),
    )
