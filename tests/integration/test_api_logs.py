"""The API's logs (httpx against the ASGI app, logging configured as `switchyard api` does):
one access line per request with its id, actor and the ids its path names, the id echoed,
and an unexpected error's id and traceback on its line, with the request's context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from switchyard.adapters.logs import configure_logging
from switchyard.adapters.settings import Settings
from tests.support.api import ApiClient, api_app, api_client, issue
from tests.support.builders import plan_request
from tests.support.logs import json_lines, logging_restored

WRITER = issue("deploy-bot")


@pytest.fixture()
def log_file(tmp_path: Path) -> Iterator[Path]:
    """The `api` role's log file, logging configured for the test."""
    with logging_restored():
        yield configure_logging("api", Settings(data_dir=tmp_path))


def access_lines(path: Path) -> list[dict[str, Any]]:
    """The access lines in the log file."""
    return [line for line in json_lines(path) if "duration_ms" in line]


def test_each_request_has_an_id_an_access_line_and_its_context(
    pg_env: dict[str, str], log_file: Path
) -> None:
    with api_client(pg_env, WRITER) as (client, _):
        made = client.post("/v1/plans", json=plan_request("acme"), headers=WRITER.headers)
        plan = made.json()["planId"]
        shown = client.post(
            f"/v1/plans/{plan}/actions/cancel",
            headers={**WRITER.headers, "X-Request-ID": "trace-42"},
        )
        odd = client.get("/healthz", headers={"X-Request-ID": "not sane\x7f" * 20})
    created, read, health = access_lines(log_file)
    assert made.headers["x-request-id"] == created["request_id"]
    assert shown.headers["x-request-id"] == read["request_id"] == "trace-42"
    assert odd.headers["x-request-id"] == health["request_id"] != "not sane"
    assert (created["method"], created["path"], created["status"]) == ("POST", "/v1/plans", 201)
    assert created["actor"] == "deploy-bot" and created["duration_ms"] >= 0
    assert (read["plan"], read["status"], read["actor"]) == (plan, 202, "deploy-bot")
    assert "actor" not in health
    assert WRITER.token not in log_file.read_text()


def test_an_unexpected_errors_id_and_traceback_are_on_one_line_with_the_request(
    pg_env: dict[str, str], log_file: Path
) -> None:
    with api_app(pg_env, WRITER) as app:
        app.asgi.add_api_route("/v1/tasks/{taskId}/broken", broken)
        transport = httpx.ASGITransport(app=app.asgi, raise_app_exceptions=False)
        with start_blocking_portal() as portal:
            client = ApiClient(portal, httpx.AsyncClient(transport=transport, base_url="http://x"))
            answer = client.get("/v1/tasks/t-1/broken", headers={"X-Request-ID": "r-500"})
    assert answer.status_code == 500 and answer.headers["x-request-id"] == "r-500"
    (logged,) = [line for line in json_lines(log_file) if "error_id" in line]
    assert logged["error_id"] == answer.json()["errorId"]
    assert "RuntimeError: secret detail" in logged["exception"]
    assert (logged["request_id"], logged["task"], logged["level"]) == ("r-500", "t-1", "error")
    (access,) = access_lines(log_file)
    assert (access["status"], access["request_id"]) == (500, "r-500")


def broken(taskId: str) -> None:
    """A route that fails unexpectedly."""
    raise RuntimeError("secret detail")
