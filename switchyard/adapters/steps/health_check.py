"""The `health-check` step: poll every instance until all report the expected version.

Params: endpoints (the fixed list), registry (mapping with a `kind`, or None),
path, versionKey, interval, maxAttempts (defaults in domain.healthcheck),
expectedVersion, and an optional per-request `timeout` (seconds, default 5).
An instance that cannot be reached, answers an error or no JSON object counts
as "not yet", like one that reports another version. It names no `target`:
its instances are many, so no single circuit breaker covers it. The stage's
timeout bounds the poll: no request outlasts it and no attempt is waited for
past it; the step then fails with `timeout`, naming the instances still lagging.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from switchyard.adapters.steps.errors import param
from switchyard.adapters.steps.resolvers import Resolver, resolve_instances
from switchyard.application.ports import StepContext, StepFailed
from switchyard.domain.healthcheck import HealthCheckSettings, health_url, resolve_health_check
from switchyard.domain.retry import parse_duration
from switchyard.domain.values import FailureType, StepDefinition

DEFAULT_TIMEOUT_SECONDS = 5.0
"""How long one health request may take unless the step says otherwise."""

SHOWN_INSTANCES = 10
"""How many lagging instances a failure message names; the details hold them all."""


class HealthCheck:
    """Polls the instances' health URLs until every one reports the expected version."""

    def __init__(
        self,
        http: httpx.Client,
        sleep: Callable[[float], None],
        resolvers: Mapping[str, Resolver],
    ) -> None:
        self._http = http
        self._sleep = sleep
        self._resolvers = resolvers

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Poll until all instances pass; record them and the attempts it took."""
        expected = str(param(step, "expectedVersion"))
        try:
            settings = resolve_health_check(step.params)
            timeout = parse_duration(step.params.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        except ValueError as exc:
            raise StepFailed(FailureType.FATAL, f"health-check: {exc}") from exc
        if settings.max_attempts < 1:
            raise StepFailed(FailureType.FATAL, "health-check: maxAttempts must be at least 1")
        endpoints = [str(e) for e in step.params.get("endpoints") or []]
        instances = resolve_instances(step.params.get("registry"), endpoints, self._resolvers)
        if not instances:
            # All of none would pass: refuse rather than report a switch nobody made.
            raise StepFailed(FailureType.FATAL, "health-check: no instances to check")
        lagging: dict[str, str] = {}
        for attempt in range(1, settings.max_attempts + 1):
            lagging = self._lagging(instances, settings, expected, timeout, context)
            if not lagging:
                return {"instances": instances, "attempts": attempt}
            if attempt < settings.max_attempts:
                left = context.seconds_left()
                if left is not None and left < settings.interval_seconds:
                    raise _timed_out(lagging, len(instances))
                self._sleep(settings.interval_seconds)
        raise _failure(lagging, len(instances), expected, settings)

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo: a health check changes nothing."""

    def _lagging(
        self,
        instances: list[str],
        settings: HealthCheckSettings,
        expected: str,
        timeout: float,
        context: StepContext,
    ) -> dict[str, str]:
        """What each instance not yet on the expected version reported instead."""
        lagging: dict[str, str] = {}
        for index, instance in enumerate(instances):
            left = context.seconds_left()
            if left == 0:
                unchecked = {i: "not checked" for i in instances[index:]}
                raise _timed_out({**lagging, **unchecked}, len(instances))
            url = health_url(instance, settings.path)
            limit = timeout if left is None else min(timeout, left)
            reported = self._report(url, settings.version_key, expected, limit)
            if reported is not None:
                lagging[instance] = reported
        return lagging

    def _report(self, url: str, key: str, expected: str, timeout: float) -> str | None:
        """None if the instance reports `expected`; else what it said instead."""
        try:
            response = self._http.get(url, timeout=timeout)
            body = response.json() if response.is_success else None
        except (httpx.HTTPError, ValueError) as exc:
            return f"unreachable ({type(exc).__name__})"
        if not response.is_success:
            return f"HTTP {response.status_code}"
        if not isinstance(body, dict):
            return "no JSON object"
        value = body.get(key)
        return None if value is not None and str(value) == expected else f"{key}={value!r}"


def _failure(
    lagging: Mapping[str, str], total: int, expected: str, settings: HealthCheckSettings
) -> StepFailed:
    message = (
        f"{len(lagging)} of {total} instances did not report {settings.version_key}"
        f"={expected} after {settings.max_attempts} attempts: {_shown(lagging)}"
    )
    details = {"lagging": dict(lagging), "attempts": settings.max_attempts}
    return StepFailed(FailureType.HEALTH_CHECK, message, details=details)


def _timed_out(lagging: Mapping[str, str], total: int) -> StepFailed:
    message = (
        f"the stage's timeout came while polling: {len(lagging)} of {total} instances"
        f" not yet on the version: {_shown(lagging)}"
    )
    return StepFailed(FailureType.TIMEOUT, message, details={"lagging": dict(lagging)})


def _shown(lagging: Mapping[str, str]) -> str:
    """The first lagging instances and what each reported, and how many more there are."""
    shown = "; ".join(f"{i}: {r}" for i, r in list(lagging.items())[:SHOWN_INSTANCES])
    more = len(lagging) - SHOWN_INSTANCES
    return shown + (f" (and {more} more)" if more > 0 else "")
