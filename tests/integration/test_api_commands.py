"""The API's commands over HTTP (httpx against the ASGI app) on a real PostgreSQL: plans
created and steered as the token's actor, closed without a token, problem details for
every error, steering that is safe to retry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import eventsourcing.persistence as es
import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from switchyard.adapters.api.tokens import Scope
from switchyard.adapters.bootstrap import Container
from switchyard.application.tracing import METADATA
from tests.support.api import ApiClient, Issued, api_app, api_client, issue
from tests.support.builders import plan_request

WRITER = issue("deploy-bot")
READER = issue("dashboard", frozenset({Scope.PLANS_READ}))
ACME_ONLY = issue("acme-bot", tenants={"acme"})
PROBLEM = "application/problem+json"


@pytest.fixture()
def api(pg_env: dict[str, str]) -> Iterator[tuple[ApiClient, Container]]:
    """A client of the API with a writer, a reader and an acme-only token configured."""
    with api_client(pg_env, WRITER, READER, ACME_ONLY, api_max_body_bytes=4096) as found:
        yield found


def post(
    client: ApiClient, path: str, issued: Issued | None, body: Any = None, **headers: str
) -> Any:
    """POST JSON as a token's holder (or with no token)."""
    sent = {**(issued.headers if issued else {}), **headers}
    return client.post(path, json=body, headers=sent)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is a problem with this status and code; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status
    assert "Traceback" not in response.text
    return body


def test_a_plan_is_created_as_the_tokens_actor(api: tuple[ApiClient, Container]) -> None:
    client, parts = api
    made = post(client, "/v1/plans", WRITER, plan_request("acme", "globex"))
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"planId", "taskIds", "sequence", "created"}
    assert made.headers["location"] == f"/v1/plans/{body['planId']}"
    plan = parts.app.get_plan(body["planId"])
    assert plan.tenant_ids == ("acme", "globex")
    history = parts.app.task_history(body["taskIds"][0])
    assert history[0].fields["actor"] == "deploy-bot"


def test_no_token_a_bad_token_or_a_missing_scope_is_refused(
    api: tuple[ApiClient, Container],
) -> None:
    client, _ = api
    request = plan_request("acme")
    no_token = assert_problem(post(client, "/v1/plans", None, request), 401, "auth.unauthenticated")
    assert "Bearer" in no_token["detail"]
    assert_problem(
        client.post("/v1/plans", json=request, headers={"Authorization": "Bearer sy_nope"}),
        401,
        "auth.unauthenticated",
    )
    assert_problem(post(client, "/v1/plans", READER, request), 403, "auth.forbidden")


def test_an_invalid_plan_lists_every_problem_by_field(api: tuple[ApiClient, Container]) -> None:
    client, _ = api
    bad = plan_request("acme", "acme", max_concurrency=0)
    body = assert_problem(post(client, "/v1/plans", WRITER, bad), 422, "plan.invalid")
    fields = {(e["field"], e["code"]) for e in body["errors"]}
    assert ("maxConcurrency", "out_of_range") in fields
    assert ("tenants[1].tenantId", "duplicate_tenant") in fields


def test_malformed_json_wrong_types_and_oversized_bodies_are_clear_4xx(
    api: tuple[ApiClient, Container],
) -> None:
    client, _ = api
    headers = {**WRITER.headers, "content-type": "application/json"}
    assert_problem(
        client.post("/v1/plans", content=b"{nope", headers=headers), 400, "request.malformed"
    )
    wrong = assert_problem(
        post(client, "/v1/plans", WRITER, {"tenants": "acme"}), 422, "request.invalid"
    )
    assert wrong["errors"][0]["field"] == "tenants"
    huge = {"tenants": [{"tenantId": "x" * 5000}]}
    assert_problem(post(client, "/v1/plans", WRITER, huge), 413, "request.too_large")
    assert_problem(client.get("/v1/nowhere", headers=WRITER.headers), 404, "route.not_found")
    assert_problem(
        client.delete("/v1/plans", headers=WRITER.headers), 405, "route.method_not_allowed"
    )


def test_steering_answers_what_it_recorded_then_that_the_effect_held(
    api: tuple[ApiClient, Container],
) -> None:
    client, parts = api
    made = post(client, "/v1/plans", WRITER, plan_request("acme", "globex")).json()
    task = made["taskIds"][0]
    paused = post(client, f"/v1/tasks/{task}/actions/pause", WRITER, {"reason": "freeze"})
    assert paused.status_code == 202, paused.text
    assert paused.json()["sequence"] > made["sequence"]
    again = post(client, f"/v1/tasks/{task}/actions/pause", WRITER, {"reason": "freeze"})
    assert again.status_code == 200 and again.json()["alreadyHeld"], again.text
    by_tenant = post(client, "/v1/tenants/acme/actions/resume", WRITER)
    assert by_tenant.status_code == 202, by_tenant.text
    cancelled = post(client, f"/v1/plans/{made['planId']}/actions/cancel", WRITER)
    assert cancelled.status_code == 202 and len(cancelled.json()["taskIds"]) == 2
    assert_problem(
        post(client, f"/v1/tasks/{task}/actions/resume", WRITER), 409, "task.invalid_transition"
    )
    assert post(client, f"/v1/plans/{made['planId']}/actions/cancel", WRITER).status_code == 200
    history = parts.app.task_history(task)
    asked = [e.fields for e in history if e.type == "PauseRequested"]
    assert asked == [{"actor": "deploy-bot", "reason": "freeze"}]


def test_a_token_limited_to_a_tenant_sees_no_other(api: tuple[ApiClient, Container]) -> None:
    client, _ = api
    others = post(client, "/v1/plans", WRITER, plan_request("globex")).json()
    assert_problem(
        post(client, f"/v1/tasks/{others['taskIds'][0]}/actions/pause", ACME_ONLY),
        404,
        "task.not_found",
    )
    assert_problem(
        post(client, f"/v1/plans/{others['planId']}/actions/pause", ACME_ONLY),
        404,
        "plan.not_found",
    )
    assert_problem(
        post(client, "/v1/tenants/globex/actions/pause", ACME_ONLY), 404, "tenant.not_found"
    )
    assert_problem(
        post(client, "/v1/plans", ACME_ONLY, plan_request("globex")), 403, "auth.forbidden"
    )
    own = post(client, "/v1/plans", ACME_ONLY, plan_request("acme"))
    assert own.status_code == 201, own.text


def test_unknown_ids_are_404_problems(api: tuple[ApiClient, Container]) -> None:
    client, _ = api
    unknown = "00000000-0000-0000-0000-000000000001"
    assert_problem(
        post(client, f"/v1/tasks/{unknown}/actions/pause", WRITER), 404, "task.not_found"
    )
    assert_problem(
        post(client, f"/v1/plans/{unknown}/actions/pause", WRITER), 404, "plan.not_found"
    )
    assert_problem(
        post(client, "/v1/tasks/not-a-uuid/actions/pause", WRITER), 422, "request.invalid"
    )
    assert_problem(
        post(client, f"/v1/tasks/{unknown}/actions/explode", WRITER), 422, "request.invalid"
    )


def test_health_needs_no_token_and_readiness_names_what_lags(
    api: tuple[ApiClient, Container],
) -> None:
    client, _ = api
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    post(client, "/v1/plans", WRITER, plan_request("acme"))
    ready = client.get("/readyz")
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["migrations"] == "ok"
    assert ready.status_code in (200, 503)


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_commands_run_in_the_requests_trace(api: tuple[ApiClient, Container]) -> None:
    client, parts = api
    made = post(client, "/v1/plans", WRITER, plan_request("acme"), traceparent=TRACEPARENT)
    task = made.json()["taskIds"][0]
    paused = post(client, f"/v1/tasks/{task}/actions/pause", WRITER, {}, traceparent=TRACEPARENT)
    assert paused.status_code == 202, paused.text
    post(client, f"/v1/tasks/{task}/actions/resume", WRITER, {})
    notifications = parts.app.recorder.select_notifications(0, 100, inclusive_of_start=False)
    stored = [json.loads(n.state).get(METADATA, {}).get("traceparent") for n in notifications]
    assert stored[:-1] == [TRACEPARENT] * (len(stored) - 1)
    assert stored[-1] is None


def test_a_store_out_of_connections_is_503_wherever_it_is_met(pg_env: dict[str, str]) -> None:
    with api_app(pg_env, WRITER) as app:
        app.asgi.add_api_route("/v1/starved", starved)  # no route maps the store's errors
        transport = httpx.ASGITransport(app=app.asgi, raise_app_exceptions=False)
        with start_blocking_portal() as portal:
            client = ApiClient(portal, httpx.AsyncClient(transport=transport, base_url="http://x"))
            answer = client.get("/v1/starved", headers=WRITER.headers)
    assert_problem(answer, 503, "store.unavailable")
    assert answer.headers["Retry-After"] == "1"


def starved() -> None:
    """A route that meets the store's pool exhausted, as a plan's writer once could."""
    raise es.OperationalError("couldn't get a connection after 5.00 sec")


def test_an_unexpected_error_is_a_problem_with_the_id_in_the_log(
    pg_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with api_app(pg_env, WRITER) as app:
        app.asgi.add_api_route("/v1/broken", broken)  # a route whose code has a bug
        transport = httpx.ASGITransport(app=app.asgi, raise_app_exceptions=False)
        with start_blocking_portal() as portal:
            client = ApiClient(portal, httpx.AsyncClient(transport=transport, base_url="http://x"))
            answer = client.get("/v1/broken", headers=WRITER.headers)
    body = assert_problem(answer, 500, "internal")
    assert body["errorId"] in body["detail"]
    logged = [r for r in caplog.records if body["errorId"] in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "secret detail" not in answer.text


def broken() -> None:
    """A route that fails unexpectedly."""
    raise RuntimeError("secret detail")
