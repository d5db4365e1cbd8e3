"""Health-check settings, their precedence, and the URL rule.

Precedence, highest first: the tenant's own settings, the application config,
the service type's recipe, then the defaults (every 3 s, at most 10 attempts,
path `/health`, version key `version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
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
