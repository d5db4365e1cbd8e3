"""Health-check settings, their precedence, the URL rule, and what instances reported.

Precedence, highest first: the tenant's own settings, the application config,
the service type's recipe, then the defaults (every 3 s, at most 10 attempts,
path `/health`, version key `version`). A health check records, per instance,
what its last poll found (`InstanceReport`): the evidence of a switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from switchyard.domain.retry import parse_duration

HEALTH_KEYS = {
    "interval": "interval_seconds",
    "maxAttempts": "max_attempts",
    "path": "path",
    "versionKey": "version_key",
}
"""Config keys of a health-check layer, and the settings field each sets."""


@dataclass(frozen=True)
class HealthCheckSettings:
    """How to poll instances' health: interval, attempts, path and version key."""

    interval_seconds: float = 3.0
    max_attempts: int = 10
    path: str = "/health"
    version_key: str = "version"


def resolve_health_check(*layers: Mapping[str, Any] | None) -> HealthCheckSettings:
    """Merge config layers, lowest precedence first, over the defaults."""
    settings = HealthCheckSettings()
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is None or key not in HEALTH_KEYS:
                continue
            settings = replace(settings, **{HEALTH_KEYS[key]: _coerce(key, value)})
    return settings


def _coerce(key: str, value: Any) -> Any:
    if key == "interval":
        return parse_duration(value)
    if key == "maxAttempts":
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise ValueError(f"maxAttempts must be a whole number: {value!r}")
        return int(value)
    return str(value)


def health_url(endpoint: str, path: str) -> str:
    """An http(s):// endpoint is used as is; otherwise http://endpoint + path."""
    if endpoint.startswith(("http://", "https://")):
        return endpoint
    return f"http://{endpoint}{path if path.startswith('/') else '/' + path}"


@dataclass(frozen=True)
class InstanceReport:
    """What one instance's last health poll found: the version it reported, when, and
    whether it was the expected one; `problem` says why it reported none (unreachable,
    an HTTP error, no JSON object, not checked before the stage's timeout)."""

    instance: str
    version: str | None
    checked_at: datetime | None
    matched: bool
    problem: str | None = None

    def to_data(self) -> dict[str, Any]:
        """Give the report as plain JSON data (the time as ISO 8601)."""
        checked = None if self.checked_at is None else self.checked_at.isoformat()
        data: dict[str, Any] = {
            "instance": self.instance,
            "version": self.version,
            "checkedAt": checked,
            "matched": self.matched,
        }
        return data if self.problem is None else {**data, "problem": self.problem}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> InstanceReport:
        """Rebuild a report from `to_data` output."""
        checked = data.get("checkedAt")
        return cls(
            instance=str(data["instance"]),
            version=None if data.get("version") is None else str(data["version"]),
            checked_at=None if checked is None else datetime.fromisoformat(checked),
            matched=bool(data.get("matched")),
            problem=data.get("problem"),
        )


def recorded_reports(recorded: Mapping[str, Any]) -> list[InstanceReport]:
    """The instance reports a health check recorded (as its result or its failure's
    details); none from any other step, nor from one recorded before reports were kept."""
    return [InstanceReport.from_data(report) for report in recorded.get("reports") or ()]
