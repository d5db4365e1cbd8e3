"""`Idempotency-Key` over HTTP on a real PostgreSQL: the same key and request replay the
first response (one plan), another request with the key is refused, a request in
flight holds its key, keys are per token, and expired keys let a command run again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import pytest

from switchyard.adapters.api.tokens import Tokens
from switchyard.adapters.bootstrap import Container
from switchyard.adapters.postgres.idempotency import claim
from tests.integration.test_api_commands import assert_problem, post
from tests.support.api import ApiClient, api_app, api_client, issue
from tests.support.builders import plan_request

WRITER = issue("deploy-bot")
OTHER = issue("other-bot")


@pytest.fixture()
def api(pg_env: dict[str, str]) -> Iterator[tuple[ApiClient, Container]]:
    """A client of the API with two writers' tokens."""
    with api_client(pg_env, WRITER, OTHER) as found:
        yield found


def key(value: str) -> dict[str, str]:
    """The header sending an idempotency key."""
    return {"Idempotency-Key": value}


def latest(parts: Container) -> int:
    """The store's last sequence."""
    return parts.app.recorder.max_notification_id() or 0


def test_the_same_key_and_request_replay_the_first_response(
    api: tuple[ApiClient, Container],
) -> None:
    client, parts = api
    first = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("k1"))
    assert first.status_code == 201, first.text
    recorded = latest(parts)
    again = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("k1"))
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert latest(parts) == recorded


def test_json_key_order_does_not_change_the_request(api: tuple[ApiClient, Container]) -> None:
    client, _ = api
    body = plan_request("acme")
    reordered = dict(reversed(list(body.items())))
    first = post(client, "/v1/plans", WRITER, body, **key("k-order"))
    again = post(client, "/v1/plans", WRITER, reordered, **key("k-order"))
    assert again.json()["planId"] == first.json()["planId"]


def test_the_key_with_another_request_is_refused(api: tuple[ApiClient, Container]) -> None:
    client, parts = api
    post(client, "/v1/plans", WRITER, plan_request("acme"), **key("k2"))
    recorded = latest(parts)
    other = post(client, "/v1/plans", WRITER, plan_request("globex"), **key("k2"))
    assert_problem(other, 422, "idempotency.key_reused")
    assert latest(parts) == recorded


def test_keys_are_kept_per_token(api: tuple[ApiClient, Container]) -> None:
    client, _ = api
    mine = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("same"))
    theirs = post(client, "/v1/plans", OTHER, plan_request("acme"), **key("same"))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["planId"] != theirs.json()["planId"]
    assert "idempotent-replayed" not in theirs.headers


def test_a_request_in_flight_holds_its_key(api: tuple[ApiClient, Container]) -> None:
    client, parts = api
    principal = Tokens([WRITER.setting]).authenticate(WRITER.token)
    assert principal is not None
    with claim(parts.store_engine(), principal.token_id, "busy", timedelta(hours=1)) as held:
        assert held is not None
        busy = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("busy"))
        assert_problem(busy, 409, "idempotency.in_flight")
        assert busy.headers["retry-after"] == "1"
    done = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("busy"))
    assert done.status_code == 201


def test_concurrent_requests_with_one_key_make_one_plan(
    api: tuple[ApiClient, Container],
) -> None:
    client, _ = api
    answers: list[Any] = []

    def send() -> None:
        sent = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("race"))
        answers.append(sent)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [a for a in answers if a.status_code == 201]
    assert made and {a.json()["planId"] for a in made} == {made[0].json()["planId"]}
    assert all(a.status_code in (201, 409) for a in answers), [a.text for a in answers]


def test_steering_with_a_key_replays_its_first_answer(api: tuple[ApiClient, Container]) -> None:
    client, parts = api
    task = post(client, "/v1/plans", WRITER, plan_request("acme")).json()["taskIds"][0]
    path = f"/v1/tasks/{task}/actions/pause"
    first = post(client, path, WRITER, {"reason": "look"}, **key("p1"))
    assert first.status_code == 202, first.text
    recorded = latest(parts)
    again = post(client, path, WRITER, {"reason": "look"}, **key("p1"))
    assert (again.status_code, again.json()) == (202, first.json())
    assert latest(parts) == recorded


def test_an_invalid_key_is_refused(api: tuple[ApiClient, Container]) -> None:
    client, _ = api
    sent = post(client, "/v1/plans", WRITER, plan_request("acme"), **key("x" * 256))
    assert_problem(sent, 400, "idempotency.key_invalid")


def test_an_expired_key_lets_the_command_run_again(pg_env: dict[str, str]) -> None:
    with api_client(pg_env, WRITER, api_idempotency_hours=1e-9) as (client, _):
        task = post(client, "/v1/plans", WRITER, plan_request("acme")).json()["taskIds"][0]
        base = f"/v1/tasks/{task}/actions"
        assert post(client, f"{base}/pause", WRITER, {}, **key("p")).status_code == 202
        assert post(client, f"{base}/resume", WRITER, {}).status_code == 202
        again = post(client, f"{base}/pause", WRITER, {}, **key("p"))
        assert again.status_code == 202 and "idempotent-replayed" not in again.headers


def test_the_response_goes_out_only_once_it_is_stored(pg_env: dict[str, str]) -> None:
    """A client that retries the moment it has the first answer gets it replayed: when the
    response's first message reaches the client, the key's claim is free and the response
    stored (a retry would otherwise meet 409 in flight)."""
    body = json.dumps(plan_request("acme")).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/plans",
        "raw_path": b"/v1/plans",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("switchyard", 80),
        "http_version": "1.1",
        "headers": [
            (b"authorization", f"Bearer {WRITER.token}".encode()),
            (b"content-type", b"application/json"),
            (b"idempotency-key", b"k-stored-first"),
        ],
    }
    with api_app(pg_env, WRITER) as app:
        ttl = timedelta(hours=1)
        seen: list[tuple[int, bool]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                token_id = app.asgi.state.services.tokens.authenticate(WRITER.token).token_id
                with claim(app.parts.store_engine(), token_id, "k-stored-first", ttl) as held:
                    seen.append((message["status"], held is not None and held.stored() is not None))

        anyio.run(app.asgi, {**scope, "app": app.asgi}, receive, send)
    assert seen == [(201, True)], seen
