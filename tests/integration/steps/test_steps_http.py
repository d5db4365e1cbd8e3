"""The `http-request` step against a local server: each answer maps to a result or a
failure type, the expected status is checked, and undo makes the compensating call."""

from __future__ import annotations

import json

import httpx
import pytest

from switchyard.application.ports import StepContext, StepExecutor, StepFailed
from switchyard.domain.values import FailureType
from tests.support.steps import StatusServer, step


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("/status/200", 200),
        ("/status/204", 204),
        ("/status/404", FailureType.CLIENT_ERROR),
        ("/status/429", FailureType.RATE_LIMITED),
        ("/status/500", FailureType.IO),
        ("/status/503", FailureType.IO),
        ("/slow", FailureType.TIMEOUT),
    ],
)
def test_http_request_maps_the_answer(
    executors: dict[str, StepExecutor],
    status_server: StatusServer,
    context: StepContext,
    path: str,
    outcome: int | FailureType,
) -> None:
    call = step("http-request", url=status_server.base + path, timeout=0.2)
    if isinstance(outcome, int):
        assert executors["http-request"].run(call, context) == {"status": outcome}
        return
    with pytest.raises(StepFailed) as failure:
        executors["http-request"].run(call, context)
    assert failure.value.type == outcome
    assert failure.value.target == status_server.base.removeprefix("http://")


def test_http_request_on_a_refused_connection_fails_with_io(
    executors: dict[str, StepExecutor], context: StepContext, refused_port: int
) -> None:
    call = step("http-request", url=f"http://127.0.0.1:{refused_port}/x")
    with pytest.raises(StepFailed) as failure:
        executors["http-request"].run(call, context)
    assert (failure.value.type, failure.value.target) == (
        FailureType.IO,
        f"127.0.0.1:{refused_port}",
    )
    assert isinstance(failure.value.__cause__, httpx.ConnectError)


def test_http_request_checks_the_expected_status(
    executors: dict[str, StepExecutor], status_server: StatusServer, context: StepContext
) -> None:
    url = status_server.base + "/status/200"
    accepted = step("http-request", url=url, expectedStatus=[200, 201])
    refused = step("http-request", url=url, expectedStatus=[201])

    assert executors["http-request"].run(accepted, context) == {"status": 200}
    with pytest.raises(StepFailed) as failure:
        executors["http-request"].run(refused, context)
    assert failure.value.type == FailureType.CLIENT_ERROR


def test_http_request_sends_the_body_and_undo_makes_the_compensating_call(
    executors: dict[str, StepExecutor], status_server: StatusServer, context: StepContext
) -> None:
    base = status_server.base
    call = step(
        "http-request",
        method="post",
        url=f"{base}/status/201",
        body={"version": "2.0.0"},
        undo={"method": "DELETE", "url": f"{base}/status/204"},
    )

    recorded = executors["http-request"].run(call, context)
    executors["http-request"].undo(call, recorded, context)

    assert [(m, p) for m, p, _ in status_server.requests] == [
        ("POST", "/status/201"),
        ("DELETE", "/status/204"),
    ]
    assert json.loads(status_server.requests[0][2]) == {"version": "2.0.0"}
