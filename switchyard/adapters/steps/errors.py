"""Downstream exceptions turned into StepFailed, through one table per library.

The mapper picks the most specific match whatever the table's order, re-raises
what it does not know, and keeps the cause so logs show the root. Each failure
names its `target` (the downstream), on which the scheduler hangs a circuit breaker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import redis.exceptions as rx

from switchyard.adapters.error_tables import first_line, most_specific
from switchyard.application.ports import StepFailed
from switchyard.domain.values import FailureType, StepDefinition

ERROR_TABLE: dict[type[BaseException], FailureType] = {
    rx.TimeoutError: FailureType.TIMEOUT,
    rx.ConnectionError: FailureType.IO,
    rx.AuthenticationError: FailureType.FATAL,
    rx.AuthorizationError: FailureType.FATAL,
    rx.ReadOnlyError: FailureType.IO,
    rx.TryAgainError: FailureType.IO,
    rx.OutOfMemoryError: FailureType.IO,
    rx.ResponseError: FailureType.FATAL,
    rx.RedisError: FailureType.UNKNOWN,
    httpx.TimeoutException: FailureType.TIMEOUT,
    httpx.TransportError: FailureType.IO,
    httpx.UnsupportedProtocol: FailureType.CLIENT_ERROR,
    httpx.LocalProtocolError: FailureType.CLIENT_ERROR,
    httpx.TooManyRedirects: FailureType.CLIENT_ERROR,
    httpx.RequestError: FailureType.IO,
    httpx.InvalidURL: FailureType.CLIENT_ERROR,
}
"""Each Redis or httpx exception class and the failure type it becomes."""


def map_step_error(exc: BaseException, target: str) -> StepFailed | None:
    """The StepFailed for a downstream exception (most specific match), or None."""
    failure = most_specific(exc, ERROR_TABLE)
    if failure is None:
        return None
    return StepFailed(failure, f"{target}: {first_line(exc)}", target=target)


@contextmanager
def step_errors(target: str) -> Iterator[None]:
    """Raise downstream exceptions as StepFailed naming `target`, keeping the cause."""
    try:
        yield
    except StepFailed:
        raise
    except Exception as exc:
        mapped = map_step_error(exc, target)
        if mapped is None:
            raise
        raise mapped from exc


def param(step: StepDefinition, name: str) -> Any:
    """A required step parameter; a step without it can never succeed, so it is fatal."""
    if step.params.get(name) is None:
        raise StepFailed(FailureType.FATAL, f"{step.kind} needs the parameter {name!r}")
    return step.params[name]


def mapping_param(step: StepDefinition, name: str) -> Mapping[str, Any]:
    """A required step parameter that must be a non-empty mapping."""
    value = param(step, name)
    if not isinstance(value, Mapping) or not value:
        raise StepFailed(FailureType.FATAL, f"{step.kind}: {name!r} must be a non-empty mapping")
    return value
