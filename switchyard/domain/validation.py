"""Validation of a plan request: a chain of rules that reports every problem at once.

Each rule looks at the raw request and yields `Problem`s with a field path
(`tenants[2].targetVersion`) and a stable code. The whole request is refused
if any rule finds anything; nothing is recorded.

Codes: required, type, unknown_field, out_of_range, unknown_service_type,
unknown_setting, unknown_placeholder, malformed_endpoint, malformed_tenant_id, duplicate_tenant,
malformed_health_check, and `url.refused` for a host the outbound policy refuses
(`domain.outbound`: cloud metadata and link-local always, loopback unless allowed).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from switchyard.domain.errors import PlanInvalid, Problem
from switchyard.domain.healthcheck import HEALTH_KEYS, resolve_health_check
from switchyard.domain.outbound import OutboundPolicy, refused_targets
from switchyard.domain.request import (
    DEFAULT_MAX_CONCURRENCY,
    PLAN_FIELDS,
    TENANT_FIELDS,
    PlanRequest,
    build_plan_request,
)
from switchyard.domain.stage_factory import BASE_PLACEHOLDERS, placeholders

ServiceTypes = Mapping[str, frozenset[str]]
"""Known service types, each with the setting names a tenant may override."""

Rule = Callable[[Mapping[str, Any], ServiceTypes], Iterator[Problem]]

_TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DIGITS_AND_DOTS = frozenset("0123456789.")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def validate_plan_request(
    raw: Any, service_types: ServiceTypes, outbound: OutboundPolicy | None = None
) -> PlanRequest:
    """Check a raw request with every rule and the outbound policy (by default, the one
    that allows no exception); return its values or raise PlanInvalid."""
    if not isinstance(raw, Mapping):
        raise PlanInvalid([Problem("", "type", "a plan request must be a mapping")])
    problems = [problem for rule in RULES for problem in rule(raw, service_types)]
    problems += refused_targets(raw, outbound or OutboundPolicy())
    if problems:
        raise PlanInvalid(problems)
    return build_plan_request(raw)


def _plan_fields(raw: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    for key in sorted(set(raw) - PLAN_FIELDS):
        yield Problem(key, "unknown_field", f"unknown field (known: {sorted(PLAN_FIELDS)})")
    name = raw.get("name")
    if name is not None and not (isinstance(name, str) and name.strip()):
        yield Problem("name", "type", "name must be a non-empty string")
    limit = raw.get("maxConcurrency", DEFAULT_MAX_CONCURRENCY)
    if not isinstance(limit, int) or isinstance(limit, bool):
        yield Problem("maxConcurrency", "type", "maxConcurrency must be a whole number")
    elif limit < 1:
        yield Problem("maxConcurrency", "out_of_range", "maxConcurrency must be at least 1")
    if not isinstance(raw.get("supersede", False), bool):
        yield Problem("supersede", "type", "supersede must be true or false")


def _tenant_list(raw: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    tenants = raw.get("tenants")
    if tenants is None:
        yield Problem("tenants", "required", "a plan needs a list of tenants")
    elif not isinstance(tenants, list):
        yield Problem("tenants", "type", "tenants must be a list")
    elif not tenants:
        yield Problem("tenants", "required", "a plan needs at least one tenant")


def _each_tenant(raw: Mapping[str, Any], types: ServiceTypes) -> Iterator[Problem]:
    tenants = raw.get("tenants")
    if not isinstance(tenants, list):
        return
    for index, tenant in enumerate(tenants):
        path = f"tenants[{index}]"
        if not isinstance(tenant, Mapping):
            yield Problem(path, "type", "a tenant's config must be a mapping")
            continue
        for check in TENANT_CHECKS:
            yield from check(path, tenant, types)


def _duplicates(raw: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    tenants = raw.get("tenants")
    if not isinstance(tenants, list):
        return
    first_seen: dict[str, int] = {}
    for index, tenant in enumerate(tenants):
        tenant_id = tenant.get("tenantId") if isinstance(tenant, Mapping) else None
        if not isinstance(tenant_id, str):
            continue
        if tenant_id in first_seen:
            yield Problem(
                f"tenants[{index}].tenantId",
                "duplicate_tenant",
                f"tenant {tenant_id!r} is already in this plan at tenants[{first_seen[tenant_id]}]",
            )
        else:
            first_seen[tenant_id] = index


def _tenant_fields(path: str, t: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    for key in sorted(set(t) - TENANT_FIELDS):
        yield Problem(
            f"{path}.{key}", "unknown_field", f"unknown field (known: {sorted(TENANT_FIELDS)})"
        )
    tenant_id = t.get("tenantId")
    if tenant_id is None or tenant_id == "":
        yield Problem(f"{path}.tenantId", "required", "tenantId is required")
    elif not isinstance(tenant_id, str) or not _TENANT_ID.match(tenant_id):
        yield Problem(
            f"{path}.tenantId",
            "malformed_tenant_id",
            "tenantId must be 1-128 letters, digits, '.', '_', ':' or '-'",
        )
    version = t.get("targetVersion")
    if version is None or str(version).strip() == "":
        yield Problem(f"{path}.targetVersion", "required", "targetVersion is required")
    elif not isinstance(version, str):
        # YAML reads an unquoted 2.10 as the number 2.1: refuse numbers rather than guess.
        yield Problem(
            f"{path}.targetVersion", "type", "targetVersion must be a string (quote it in YAML)"
        )


def _service_type(path: str, t: Mapping[str, Any], types: ServiceTypes) -> Iterator[Problem]:
    service_type = t.get("serviceType")
    if service_type is None or service_type == "":
        yield Problem(f"{path}.serviceType", "required", "serviceType is required")
        return
    if not isinstance(service_type, str) or service_type not in types:
        yield Problem(
            f"{path}.serviceType",
            "unknown_service_type",
            f"unknown service type {service_type!r} (known: {sorted(types)})",
        )
        return
    overrides = t.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        yield Problem(f"{path}.overrides", "type", "overrides must be a mapping")
        return
    for key in sorted(set(overrides) - types[service_type]):
        yield Problem(
            f"{path}.overrides.{key}",
            "unknown_setting",
            f"{service_type} has no setting {key!r} (known: {sorted(types[service_type])})",
        )
    for key, value in sorted(overrides.items()):
        unknown = placeholders(value) - BASE_PLACEHOLDERS
        if unknown:
            yield Problem(
                f"{path}.overrides.{key}",
                "unknown_placeholder",
                f"unknown placeholders {sorted(unknown)} (known: {sorted(BASE_PLACEHOLDERS)})",
            )


def _endpoints(path: str, t: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    endpoints = t.get("endpoints")
    if endpoints is None or endpoints == []:
        yield Problem(f"{path}.endpoints", "required", "at least one endpoint is required")
        return
    if not isinstance(endpoints, list):
        yield Problem(f"{path}.endpoints", "type", "endpoints must be a list")
        return
    for index, endpoint in enumerate(endpoints):
        if not (isinstance(endpoint, str) and is_well_formed_endpoint(endpoint)):
            yield Problem(
                f"{path}.endpoints[{index}]",
                "malformed_endpoint",
                f"{endpoint!r} is neither host[:port] nor an http(s):// URL",
            )


def _health_check(path: str, t: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    health = t.get("healthCheck")
    if health is None:
        return
    if not isinstance(health, Mapping):
        yield Problem(f"{path}.healthCheck", "type", "healthCheck must be a mapping")
        return
    for key in sorted(set(health) - set(HEALTH_KEYS)):
        yield Problem(f"{path}.healthCheck.{key}", "unknown_field", f"known: {sorted(HEALTH_KEYS)}")
    try:
        settings = resolve_health_check(health)
    except (TypeError, ValueError) as exc:
        yield Problem(f"{path}.healthCheck", "malformed_health_check", str(exc))
        return
    if settings.max_attempts < 1 or settings.interval_seconds <= 0:
        yield Problem(
            f"{path}.healthCheck", "out_of_range", "interval must be > 0 and maxAttempts >= 1"
        )


def _registry(path: str, t: Mapping[str, Any], _: ServiceTypes) -> Iterator[Problem]:
    registry = t.get("registry")
    if registry is None:
        return
    if not isinstance(registry, Mapping) or not isinstance(registry.get("kind"), str):
        yield Problem(f"{path}.registry", "type", "registry must be a mapping with a 'kind'")


@lru_cache(maxsize=4096)  # a plan's tenants often share endpoints (a gateway, a balancer)
def is_well_formed_endpoint(endpoint: str) -> bool:
    """Whether an endpoint is an http(s) URL with a host, or host[:port]."""
    if endpoint.startswith(("http://", "https://")):
        try:
            parts = urlsplit(endpoint)
            return bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:
            return False
    has_port = _has_port(endpoint)
    host, _, port = endpoint.rpartition(":") if has_port else (endpoint, "", "")
    if has_port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    return _is_host(host.removeprefix("[").removesuffix("]"))


def _has_port(endpoint: str) -> bool:
    return endpoint.count(":") == 1 or (endpoint.startswith("[") and "]:" in endpoint)


def _is_host(host: str) -> bool:
    if ":" in host or set(host) <= _DIGITS_AND_DOTS:  # else no address: spare the parser
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return True
    return bool(_HOSTNAME.match(host)) and not host.replace(".", "").isdigit()


TENANT_CHECKS = (_tenant_fields, _service_type, _endpoints, _health_check, _registry)
"""The checks run on each tenant's config, in order."""

RULES: tuple[Rule, ...] = (_plan_fields, _tenant_list, _each_tenant, _duplicates)
"""The validation chain, in the order its problems are reported."""
