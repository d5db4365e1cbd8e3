"""The step kinds' tables: `noop` does nothing, and the error table maps every Redis and
httpx request exception to a failure type, the most specific match whatever its order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.exceptions as rx

from switchyard.adapters.steps import errors
from switchyard.adapters.steps.errors import ERROR_TABLE, map_step_error
from switchyard.application.ports import StepContext, StepExecutor
from switchyard.domain.values import FailureType
from tests.support.steps import step


def test_noop_does_nothing(executors: dict[str, StepExecutor], context: StepContext) -> None:
    noop = step("noop")
    assert executors["noop"].run(noop, context) == {}
    executors["noop"].undo(noop, {}, context)


def library_exceptions(module: Any, base: type[BaseException]) -> list[type[BaseException]]:
    """Every exception class a library module exposes that derives from `base`."""
    return [
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, base)
        and cls.__module__.startswith(module.__name__.partition(".")[0])
    ]


def raised(cls: type[BaseException]) -> BaseException:
    """An instance of an exception class, built without its own constructor's arguments."""
    exc = cls.__new__(cls)
    exc.args = ("boom",)
    return exc


def test_error_table_covers_every_redis_and_httpx_request_exception() -> None:
    classes = [
        *library_exceptions(rx, rx.RedisError),
        *library_exceptions(httpx, httpx.RequestError),
        httpx.InvalidURL,
    ]
    assert len(classes) > 30
    assert [c.__name__ for c in classes if map_step_error(raised(c), "t") is None] == []


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_error_table_picks_the_most_specific_match(
    order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if order == "reversed":
        monkeypatch.setattr(errors, "ERROR_TABLE", dict(reversed(ERROR_TABLE.items())))
    cases = {
        rx.TimeoutError: FailureType.TIMEOUT,
        rx.BusyLoadingError: FailureType.IO,
        rx.AuthenticationError: FailureType.FATAL,
        rx.ReadOnlyError: FailureType.IO,
        rx.NoScriptError: FailureType.FATAL,
        rx.WatchError: FailureType.UNKNOWN,
        httpx.ConnectTimeout: FailureType.TIMEOUT,
        httpx.ConnectError: FailureType.IO,
        httpx.UnsupportedProtocol: FailureType.CLIENT_ERROR,
    }
    for cls, expected in cases.items():
        mapped = map_step_error(raised(cls), "t")
        assert mapped is not None and mapped.type == expected, cls.__name__


def test_map_step_error_ignores_unknown_exceptions() -> None:
    assert map_step_error(KeyError("nope"), "t") is None
