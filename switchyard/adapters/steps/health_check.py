"""The `health-check` step: poll every instance until all report the expected version.

Params: endpoints (the fixed list), registry (mapping with a `kind`, or None),
path, versionKey, interval, maxAttempts (defaults in domain.healthcheck),
expectedVersion, and an optional per-request `timeout` (seconds, default 5).
An instance that cannot be reached, answers an error or no JSON object counts
as "not yet", like one that reports another version. It names no `target`:
its instances are many, so no single circuit breaker covers it. The stage's
timeout bounds the poll: no request outlasts it and no attempt is waited for
past it; the step then fails with `timeout`, naming the instances still lagging.
An instance the outbound policy refuses (`steps.outbound`) fails the step at
once as fatal, with the code `url.refused`: polling it again is refused again.

What each instance's last poll found (`domain.healthcheck.InstanceReport`: the
version, the time in UTC, whether it matched) is recorded as `reports`, in the
step's result when it passes and in its failure's details when it does not:
the evidence a plan's report shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from switchyard.adapters.steps.errors import param
from switchyard.adapters.steps.outbound import AddressRefused, refused_step
from switchyard.adapters.steps.resolvers import Resolver, resolve_instances
from switchyard.application.ports import StepContext, StepFailed
from switchyard.domain.healthcheck import (
    HealthCheckSettings,
    InstanceReport,
    health_url,
    resolve_health_check,
)
from switchyard.domain.retry import parse_duration
from switchyard.domain.values import FailureType, StepDefinition

DEFAULT_TIMEOUT_SECONDS = 5.0
"""How long one health request may take unless the step says otherwise."""

SHOWN_INSTANCES = 10
"""How many lagging instances a failure message names; the details hold them all."""


Reports = dict[str, InstanceReport]
"""Per instance, what its latest poll found."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HealthCheck:
    """Polls the instances' health URLs until every one reports the expected version."""

    def __init__(
        self,
        http: httpx.Client,
        sleep: Callable[[float], None],
        resolvers: Mapping[str, Resolver],
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._http = http
        self._sleep = sleep
        self._resolvers = resolvers
        self._now = now

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Poll until all instances pass; record them, the attempts it took and, per
        instance, what its last poll found (version, time, whether it matched)."""
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
        reports: Reports = {}
        for attempt in range(1, settings.max_attempts + 1):
            reports = self._poll(instances, settings, expected, timeout, context, reports)
            if all(report.matched for report in reports.values()):
                return {"instances": instances, "attempts": attempt, **_evidence(reports)}
            if attempt < settings.max_attempts:
                left = context.seconds_left()
                if left is not None and left < settings.interval_seconds:
                    raise _timed_out(reports, settings)
                self._sleep(settings.interval_seconds)
        raise _failure(reports, expected, settings)

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo: a health check changes nothing."""

    def _poll(
        self,
        instances: list[str],
        settings: HealthCheckSettings,
        expected: str,
        timeout: float,
        context: StepContext,
        previous: Reports,
    ) -> Reports:
        """Poll every instance once; an instance the stage's timeout leaves unpolled keeps
        its previous report (or one saying it was not checked), and the step fails."""
        reports: Reports = {}
        for index, instance in enumerate(instances):
            left = context.seconds_left()
            if left == 0:
                for unchecked in instances[index:]:
                    reports[unchecked] = previous.get(unchecked) or _not_checked(unchecked)
                raise _timed_out(reports, settings)
            url = health_url(instance, settings.path)
            limit = timeout if left is None else min(timeout, left)
            reports[instance] = self._report(instance, url, settings.version_key, expected, limit)
        return reports

    def _report(
        self, instance: str, url: str, key: str, expected: str, timeout: float
    ) -> InstanceReport:
        """What the instance's health URL says: its version, or why it gave none."""
        try:
            response = self._http.get(url, timeout=timeout)
            body = response.json() if response.is_success else None
        except AddressRefused as exc:
            raise refused_step(instance, exc) from exc
        except (httpx.HTTPError, ValueError) as exc:
            return _no_version(instance, self._now(), f"unreachable ({type(exc).__name__})")
        if not response.is_success:
            return _no_version(instance, self._now(), f"HTTP {response.status_code}")
        if not isinstance(body, dict):
            return _no_version(instance, self._now(), "no JSON object")
        value = body.get(key)
        version = None if value is None else str(value)
        problem = None if value is not None else f"no {key!r} in the body"
        return InstanceReport(instance, version, self._now(), version == expected, problem)


def _no_version(instance: str, checked_at: datetime, problem: str) -> InstanceReport:
    return InstanceReport(instance, None, checked_at, matched=False, problem=problem)


def _not_checked(instance: str) -> InstanceReport:
    return InstanceReport(instance, None, None, matched=False, problem="not checked")


def _evidence(reports: Reports) -> dict[str, Any]:
    """The recorded form of the reports (see `domain.healthcheck.recorded_reports`)."""
    return {"reports": [report.to_data() for report in reports.values()]}


def _lagging(reports: Reports, key: str) -> dict[str, str]:
    """What each instance not on the expected version reported instead."""
    return {
        instance: report.problem or f"{key}={report.version!r}"
        for instance, report in reports.items()
        if not report.matched
    }


def _failure(reports: Reports, expected: str, settings: HealthCheckSettings) -> StepFailed:
    lagging = _lagging(reports, settings.version_key)
    message = (
        f"{len(lagging)} of {len(reports)} instances did not report {settings.version_key}"
        f"={expected} after {settings.max_attempts} attempts: {_shown(lagging)}"
    )
    details = {"lagging": lagging, "attempts": settings.max_attempts, **_evidence(reports)}
    return StepFailed(FailureType.HEALTH_CHECK, message, details=details)


def _timed_out(reports: Reports, settings: HealthCheckSettings) -> StepFailed:
    lagging = _lagging(reports, settings.version_key)
    message = (
        f"the stage's timeout came while polling: {len(lagging)} of {len(reports)} instances"
        f" not yet on the version: {_shown(lagging)}"
    )
    details = {"lagging": lagging, **_evidence(reports)}
    return StepFailed(FailureType.TIMEOUT, message, details=details)


def _shown(lagging: Mapping[str, str]) -> str:
    """The first lagging instances and what each reported, and how many more there are."""
    shown = "; ".join(f"{i}: {r}" for i, r in list(lagging.items())[:SHOWN_INSTANCES])
    more = len(lagging) - SHOWN_INSTANCES
    return shown + (f" (and {more} more)" if more > 0 else "")
