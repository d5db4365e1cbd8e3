"""The CLI's API client at its edges: httpx's exceptions map to switchyard's errors through
one table (every request error covered, the most specific entry winning), a problem
answer becomes the error of its code, and the report reads back from its JSON."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from switchyard.adapters.cli import remote
from switchyard.adapters.cli.remote import TRANSPORT_ERRORS, map_transport_error, problem_error
from switchyard.adapters.report.data import report_data
from switchyard.adapters.report.parse import report_from_data
from switchyard.domain.errors import (
    ApiAnswered,
    ApiError,
    ApiUnavailable,
    PlanInvalid,
    PlanNotFound,
    Problem,
)
from switchyard.domain.healthcheck import InstanceReport
from switchyard.projections.report import Steering
from tests.unit.test_report_rendering import START, plan, tenant

URL = "http://api.test"


def request_error_classes() -> list[type[Exception]]:
    """Every exception class httpx exports that a request may raise."""
    return [
        cls
        for _, cls in inspect.getmembers(httpx, inspect.isclass)
        if issubclass(cls, httpx.RequestError | httpx.InvalidURL)
    ]


def instance_of(cls: type[Exception]) -> Exception:
    """An instance of an httpx exception class."""
    return cls("boom")


def test_the_table_covers_every_request_error_of_httpx() -> None:
    classes = request_error_classes()
    assert {"ConnectError", "ReadTimeout", "UnsupportedProtocol"} <= {c.__name__ for c in classes}
    assert [c.__name__ for c in classes if map_transport_error(instance_of(c), URL) is None] == []


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_the_most_specific_entry_wins(order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if order == "reversed":
        monkeypatch.setattr(remote, "TRANSPORT_ERRORS", dict(reversed(TRANSPORT_ERRORS.items())))
    cases: list[tuple[type[Exception], type[ApiError]]] = [
        (httpx.ConnectError, ApiUnavailable),
        (httpx.ReadTimeout, ApiUnavailable),
        (httpx.RemoteProtocolError, ApiUnavailable),
        (httpx.UnsupportedProtocol, ApiError),
        (httpx.TooManyRedirects, ApiError),
        (httpx.InvalidURL, ApiError),
    ]
    for cls, expected in cases:
        mapped = map_transport_error(instance_of(cls), URL)
        assert type(mapped) is expected, cls.__name__
        assert mapped is not None and URL in mapped.message


def test_what_is_no_request_error_is_not_mapped() -> None:
    assert map_transport_error(ValueError("nope"), URL) is None


def answer(
    status: int, body: object, media_type: str = "application/problem+json"
) -> httpx.Response:
    """An answer of the API to a GET."""
    content = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
    return httpx.Response(
        status,
        content=content,
        headers={"content-type": media_type},
        request=httpx.Request("GET", f"{URL}/v1/plans"),
    )


def test_a_problem_of_a_known_code_is_that_error() -> None:
    found = problem_error(answer(404, {"code": "plan.not_found", "detail": "no plan p"}))
    assert type(found) is PlanNotFound and found.message == "no plan p"


def test_an_invalid_plan_keeps_every_field_problem() -> None:
    errors = [{"field": "tenants[0].endpoints", "code": "required", "message": "missing"}]
    body = {"code": "plan.invalid", "detail": "invalid", "errors": errors}
    found = problem_error(answer(422, body))
    assert isinstance(found, PlanInvalid)
    assert found.problems == (Problem("tenants[0].endpoints", "required", "missing"),)


def test_a_problem_of_another_code_keeps_its_code() -> None:
    found = problem_error(answer(403, {"code": "auth.forbidden", "detail": "no scope"}))
    assert isinstance(found, ApiAnswered) and found.problem_code == "auth.forbidden"


@pytest.mark.parametrize(
    "status, body, media_type",
    [
        (404, "<html>not found</html>", "text/html"),
        (502, {"error": "bad gateway"}, "application/json"),
        (500, "", "text/plain"),
    ],
)
def test_an_answer_that_is_no_problem_is_an_api_error(
    status: int, body: object, media_type: str
) -> None:
    found = problem_error(answer(status, body, media_type))
    assert type(found) is ApiError


def test_the_report_reads_back_from_its_json() -> None:
    steered = Steering(START, "cli:alice", "PauseRequested", None)
    failed = replace(
        tenant(1, "FAILED"),
        evidence=(InstanceReport("10.0.0.1:80", None, None, False, "unreachable"),),
    )
    report = replace(
        plan(tenant(0), failed),
        task_counts={"COMPLETED": 1, "FAILED": 1},
        steering=(steered,),
        finished_at=START + timedelta(minutes=5),
    )
    data = json.loads(json.dumps(report_data(report)))
    assert report_from_data(data) == report
