"""The `http-request` step: call an HTTP endpoint, and optionally a compensating one on undo.

Params: method (default GET), url, headers, body (sent as JSON), expectedStatus
(a list; default any 2xx), timeout (default 10 s), and `undo`, a mapping of the
same shape for the compensating call. An unexpected answer becomes a StepFailed:
429 is rate-limited, other 4xx a client error, 5xx an I/O error (the server may
recover), anything else a client error. A call the outbound policy refuses
(`steps.outbound`) fails the step as fatal, with the code `url.refused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from switchyard.adapters.steps.errors import step_errors
from switchyard.adapters.steps.outbound import AddressRefused, refused_step
from switchyard.application.ports import StepContext, StepFailed
from switchyard.domain.retry import parse_duration
from switchyard.domain.values import FailureType, StepDefinition

DEFAULT_TIMEOUT_SECONDS = 10.0
"""How long a request may take unless the step says otherwise."""


def status_failure(status: int) -> FailureType:
    """How to treat an unexpected status code."""
    if status == 429:
        return FailureType.RATE_LIMITED
    if 500 <= status < 600:
        return FailureType.IO
    return FailureType.CLIENT_ERROR


def target_of(url: str) -> str:
    """The downstream a URL names, as host:port (for the circuit breaker)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
    return f"{parsed.host}:{port}"


class HttpRequest:
    """Calls an HTTP endpoint and checks the status; undo makes the `undo` call if any."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def target(self, step: StepDefinition) -> str | None:
        """The host:port the step's `url` names, for the circuit breaker (its undo shares it)."""
        url = step.params.get("url")
        return target_of(str(url)) if url else None

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Make the call; record the status it answered."""
        return {"status": self._call(step.params)}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Make the compensating call, if the step has one."""
        compensation = step.params.get("undo")
        if compensation:
            self._call(compensation)

    def _call(self, request: Mapping[str, Any]) -> int:
        url = str(request.get("url") or "")
        try:
            timeout = parse_duration(request.get("timeout", DEFAULT_TIMEOUT_SECONDS))
            expected = [int(code) for code in request.get("expectedStatus") or []]
        except (TypeError, ValueError) as exc:
            raise StepFailed(FailureType.FATAL, f"http-request: {exc}") from exc
        if not url:
            raise StepFailed(FailureType.FATAL, "http-request needs the parameter 'url'")
        target = target_of(url)
        try:
            with step_errors(target):
                response = self._http.request(
                    str(request.get("method", "GET")).upper(),
                    url,
                    headers=request.get("headers"),
                    json=request.get("body"),
                    timeout=timeout,
                )
        except AddressRefused as exc:
            raise refused_step(url, exc, target) from exc
        status = response.status_code
        if (status in expected) if expected else response.is_success:
            return status
        raise StepFailed(
            status_failure(status),
            f"{target}: HTTP {status}",
            target=target,
            details={"status": status, "retryAfter": response.headers.get("retry-after")},
        )
