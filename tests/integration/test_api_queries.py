"""The API's queries over HTTP (httpx against the ASGI app) on read tables built from a real
PostgreSQL event store: every GET route, its filters and pages, 404 for what is missing or
not the token's, a tenant-limited token's lists filtered, scopes, a bounded page size,
the report as JSON or HTML, and read-your-writes through a real relay and projector."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from switchyard.adapters.api.tokens import Scope
from switchyard.adapters.bootstrap import Container
from switchyard.adapters.relay.config import RelayConfig
from tests.integration.test_api_commands import assert_problem
from tests.integration.test_projector import projecting, projector_config
from tests.support.api import ApiClient, Issued, api_client, issue
from tests.support.builders import plan_request, run_stages, tenant
from tests.support.kafka import running

READER = issue("dashboard", frozenset({Scope.PLANS_READ}))
AUDITOR = issue("auditor", frozenset({Scope.AUDIT_READ}))
WRITER = issue("deploy-bot")
ACME_ONLY = issue("acme-bot", tenants={"acme"})
MISSING = str(UUID(int=7))


@dataclass(frozen=True)
class Fleet:
    """The API's client, its container, and the ids of the history recorded."""

    client: ApiClient
    parts: Container
    ids: dict[str, str]

    def get(self, path: str, issued: Issued = READER, **params: Any) -> Any:
        """GET as a token's holder."""
        return self.client.get(path, params=params, headers=issued.headers)

    def json(self, path: str, issued: Issued = READER, **params: Any) -> Any:
        """GET's body, which must be a 200."""
        response = self.get(path, issued, **params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture()
def fleet(pg_env: dict[str, str]) -> Iterator[Fleet]:
    """Plan one (alice): acme completed, globex failed, initech queued. Plan two (bob): acme
    and initech on 3.0.0. The read tables rebuilt from the store."""
    tokens = (READER, AUDITOR, WRITER, ACME_ONLY)
    with api_client(pg_env, *tokens, api_max_page=50) as (client, parts):
        app = parts.app
        one = app.create_plan(plan_request("acme", "globex", "initech"), "cli:alice")
        run_stages(app, one.task_ids[0], 3)
        run_stages(app, one.task_ids[1], 1, fail_next=True)
        newer = [tenant(t, targetVersion="3.0.0") for t in ("acme", "initech")]
        two = app.create_plan(plan_request(*newer, name="next"), "cli:bob")
        ids = {"one": str(one.plan_id), "two": str(two.plan_id)}
        ids |= {
            f"one/{t}": str(i)
            for t, i in zip(("acme", "globex", "initech"), one.task_ids, strict=True)
        }
        ids |= {f"two/{t}": str(i) for t, i in zip(("acme", "initech"), two.task_ids, strict=True)}
        parts.rebuild_read_tables()
        yield Fleet(client, parts, ids)


def every_page(
    fleet: Fleet, path: str, key: str, issued: Issued = READER, **params: Any
) -> list[Any]:
    """Every row of a listing, followed page by page through `next`."""
    found: list[Any] = []
    after = None
    while True:
        body = fleet.json(path, issued, **params, **({} if after is None else {"after": after}))
        found += body[key]
        after = body["next"]
        if after is None:
            return found


def test_plans_list_newest_first_filter_and_page(fleet: Fleet) -> None:
    plans = every_page(fleet, "/v1/plans", "plans", limit=1)
    assert [p["planId"] for p in plans] == [fleet.ids["two"], fleet.ids["one"]]
    assert plans[1]["taskCounts"] == {"COMPLETED": 1, "FAILED": 1, "QUEUED": 1}
    by_bob = fleet.json("/v1/plans", actor="cli:bob")["plans"]
    assert [p["planId"] for p in by_bob] == [fleet.ids["two"]]
    failed = fleet.json("/v1/plans", status="PARTIALLY_FAILED")["plans"]
    assert all(p["status"] == "PARTIALLY_FAILED" for p in failed)
    assert fleet.json("/v1/plans", since="2999-01-01T00:00:00")["plans"] == []


def test_a_plan_shows_its_tasks_in_fifo_order_paged_and_filtered(fleet: Fleet) -> None:
    path = f"/v1/plans/{fleet.ids['one']}"
    first = fleet.json(path, limit=2)
    assert first["plan"]["tasksTotal"] == 3 and first["next"] == first["tasks"][1]["position"]
    rest = fleet.json(path, limit=2, after=first["next"])
    tenants = [t["tenantId"] for t in first["tasks"] + rest["tasks"]]
    assert tenants == ["acme", "globex", "initech"] and rest["next"] is None
    failed = fleet.json(path, status="FAILED")["tasks"]
    assert [t["tenantId"] for t in failed] == ["globex"] and failed[0]["hasCheckpoint"]


def test_a_task_and_a_tenant_its_task_and_checkpoint(fleet: Fleet) -> None:
    task = fleet.json(f"/v1/tasks/{fleet.ids['one/globex']}")
    assert task["status"] == "FAILED" and task["failedStage"]
    acme = fleet.json("/v1/tenants/acme")
    assert acme["version"] == "2.5.0" and acme["latestTask"] == fleet.ids["two/acme"]
    current = fleet.json("/v1/tenants/globex/task")
    assert current["taskId"] == fleet.ids["one/globex"]
    assert fleet.json("/v1/tenants/globex/checkpoint") == {
        "tenantId": "globex",
        "hasCheckpoint": True,
        "taskId": fleet.ids["one/globex"],
    }
    waiting = fleet.json("/v1/tenants/initech/task")
    assert waiting["taskId"] == fleet.ids["one/initech"] and waiting["status"] == "QUEUED"
    assert fleet.json("/v1/tenants/acme/task")["taskId"] == fleet.ids["two/acme"]


def test_tenants_list_by_id_filter_and_page(fleet: Fleet) -> None:
    every = every_page(fleet, "/v1/tenants", "tenants", limit=2)
    assert [t["tenantId"] for t in every] == ["acme", "globex", "initech"]
    on_version = fleet.json("/v1/tenants", version="2.5.0")["tenants"]
    assert [t["tenantId"] for t in on_version] == ["acme"]
    queued = fleet.json("/v1/tenants", status="QUEUED", serviceType="blue-green-gateway")
    assert [t["tenantId"] for t in queued["tenants"]] == ["acme", "initech"]
    assert queued["tenants"][1]["blockedBy"] == fleet.ids["one/initech"]


def test_audit_filters_orders_and_pages(fleet: Fleet) -> None:
    newest = every_page(fleet, "/v1/audit", "events", AUDITOR, limit=5)
    sequences = [e["sequence"] for e in newest]
    assert sequences == sorted(sequences, reverse=True) and len(set(sequences)) == len(newest)
    oldest = every_page(fleet, "/v1/audit", "events", AUDITOR, limit=5, order="asc")
    assert [e["sequence"] for e in oldest] == sequences[::-1]
    globex = fleet.json("/v1/audit", AUDITOR, task=fleet.ids["one/globex"])["events"]
    assert {e["aggregateId"] for e in globex} == {fleet.ids["one/globex"]}
    failed = fleet.json("/v1/audit", AUDITOR, type="Task.StageFailed")["events"]
    assert [e["tenantId"] for e in failed] == ["globex"]
    by_bob = fleet.json("/v1/audit", AUDITOR, actor="cli:bob", plan=fleet.ids["two"])["events"]
    assert by_bob and all(e["planId"] == fleet.ids["two"] for e in by_bob)
    assert fleet.json("/v1/audit", AUDITOR, until="2000-01-01T00:00:00Z")["events"] == []


def test_one_audit_event_by_its_sequence(fleet: Fleet) -> None:
    listed = fleet.json("/v1/audit", AUDITOR, limit=50)["events"]
    assert listed and not any(e["payloadOmitted"] for e in listed)
    for event in listed:
        assert fleet.json(f"/v1/audit/{event['sequence']}", AUDITOR) == event
    missing = max(e["sequence"] for e in listed) + 1
    assert_problem(fleet.get(f"/v1/audit/{missing}", AUDITOR), 404, "audit.event_not_found")
    globex = next(e for e in listed if e["tenantId"] == "globex")["sequence"]
    assert_problem(fleet.get(f"/v1/audit/{globex}", ACME_ONLY), 404, "audit.event_not_found")
    assert_problem(fleet.get(f"/v1/audit/{globex}", READER), 403, "auth.forbidden")


def test_the_report_is_json_or_the_html_page(fleet: Fleet) -> None:
    path = f"/v1/plans/{fleet.ids['one']}/report"
    report = fleet.json(path)
    assert [t["tenantId"] for t in report["tenants"]] == ["acme", "globex", "initech"]
    page = fleet.client.get(path, headers={**READER.headers, "Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert all(t in page.text for t in ("acme", "globex", "initech"))


def test_missing_things_answer_404_with_the_domains_code(fleet: Fleet) -> None:
    assert_problem(fleet.get(f"/v1/plans/{MISSING}"), 404, "plan.not_found")
    assert_problem(fleet.get(f"/v1/plans/{MISSING}/report"), 404, "plan.not_found")
    assert_problem(fleet.get(f"/v1/tasks/{MISSING}"), 404, "task.not_found")
    for path in ("/v1/tenants/hooli", "/v1/tenants/hooli/task", "/v1/tenants/hooli/checkpoint"):
        assert_problem(fleet.get(path), 404, "tenant.not_found")


def test_a_tenant_limited_token_sees_only_its_tenants(fleet: Fleet) -> None:
    globex = fleet.ids["one/globex"]
    assert_problem(fleet.get(f"/v1/tasks/{globex}", ACME_ONLY), 404, "task.not_found")
    for path in ("/v1/tenants/globex", "/v1/tenants/globex/task", "/v1/tenants/globex/checkpoint"):
        assert_problem(fleet.get(path, ACME_ONLY), 404, "tenant.not_found")
    tenants = fleet.json("/v1/tenants", ACME_ONLY)["tenants"]
    assert [t["tenantId"] for t in tenants] == ["acme"]
    shown = fleet.json(f"/v1/plans/{fleet.ids['one']}", ACME_ONLY)
    assert [t["tenantId"] for t in shown["tasks"]] == ["acme"]
    # The plan's roll-up is of acme's task alone: globex's failure and initech stay unseen.
    seen = {"status": "COMPLETED", "taskCounts": {"COMPLETED": 1}, "tasksTotal": 1}
    assert {key: shown["plan"][key] for key in seen} == seen
    assert (shown["plan"]["stagesDone"], shown["plan"]["stagesTotal"]) == (3, 3)
    listed = fleet.json("/v1/plans", ACME_ONLY)["plans"]
    assert {p["planId"]: p["tasksTotal"] for p in listed} == {
        fleet.ids["one"]: 1,
        fleet.ids["two"]: 1,
    }
    report = fleet.json(f"/v1/plans/{fleet.ids['one']}/report", ACME_ONLY)
    assert [t["tenantId"] for t in report["tenants"]] == ["acme"]
    assert report["taskCounts"] == {"COMPLETED": 1}
    events = every_page(fleet, "/v1/audit", "events", ACME_ONLY, limit=10)
    assert events and {e["tenantId"] for e in events} == {"acme"}


def test_a_plan_without_the_tokens_tenants_is_not_found(pg_env: dict[str, str]) -> None:
    with api_client(pg_env, ACME_ONLY) as (client, parts):
        made = parts.app.create_plan(plan_request("globex"), "cli:alice")
        parts.rebuild_read_tables()
        plan = str(made.plan_id)
        for path in (f"/v1/plans/{plan}", f"/v1/plans/{plan}/report"):
            assert_problem(client.get(path, headers=ACME_ONLY.headers), 404, "plan.not_found")
        listed = client.get("/v1/plans", headers=ACME_ONLY.headers).json()
        assert listed == {"plans": [], "next": None}


def test_scopes_are_required(fleet: Fleet) -> None:
    assert_problem(fleet.get("/v1/audit", READER), 403, "auth.forbidden")
    assert_problem(fleet.get("/v1/plans", AUDITOR), 403, "auth.forbidden")
    assert_problem(fleet.client.get("/v1/tenants"), 401, "auth.unauthenticated")


def test_a_page_larger_than_allowed_or_a_bad_cursor_is_invalid(fleet: Fleet) -> None:
    body = assert_problem(fleet.get("/v1/plans", limit=51), 422, "request.invalid")
    assert [e["field"] for e in body["errors"]] == ["limit"]
    body = assert_problem(fleet.get("/v1/audit", AUDITOR, limit=0), 422, "request.invalid")
    assert [e["field"] for e in body["errors"]] == ["limit"]
    body = assert_problem(fleet.get("/v1/plans", after="nope"), 422, "request.invalid")
    assert [e["field"] for e in body["errors"]] == ["after"]
    body = assert_problem(fleet.get("/v1/tenants", serviceType="a\x01"), 422, "request.invalid")
    assert [e["field"] for e in body["errors"]] == ["serviceType"]


def test_a_sequence_the_tables_do_not_reach_is_stale(pg_env: dict[str, str]) -> None:
    with api_client(pg_env, READER, read_wait_seconds=0.2) as (client, _):
        response = client.get("/v1/plans?minSequence=999999", headers=READER.headers)
        body = assert_problem(response, 503, "read.stale")
        assert "the relay has published up to sequence" in body["detail"]
        assert response.headers["retry-after"]


def test_a_get_given_a_commands_sequence_sees_the_command(
    pg_env: dict[str, str], config: RelayConfig
) -> None:
    tokens = (READER, WRITER, AUDITOR)
    with (
        running(pg_env, config),
        projecting(pg_env, projector_config(config)),
        api_client(pg_env, *tokens, kafka_topic=config.topic, read_wait_seconds=60) as (client, _),
    ):
        made = client.post("/v1/plans", json=plan_request("acme"), headers=WRITER.headers).json()
        plan = client.get(
            f"/v1/plans/{made['planId']}?minSequence={made['sequence']}", headers=READER.headers
        )
        assert plan.status_code == 200, plan.text
        task = made["taskIds"][0]
        for round in range(3):
            paused = client.post(
                f"/v1/tasks/{task}/actions/pause",
                json={"reason": f"window {round}"},
                headers=WRITER.headers,
            ).json()
            events = client.get(
                "/v1/audit",
                params={
                    "task": task,
                    "type": "PauseRequested",
                    "limit": 1,
                    "minSequence": paused["sequence"],
                },
                headers=AUDITOR.headers,
            ).json()["events"]
            assert events[0]["payload"]["reason"] == f"window {round}"
            resumed = client.post(f"/v1/tasks/{task}/actions/resume", headers=WRITER.headers)
            shown = client.get(
                f"/v1/tasks/{task}",
                params={"minSequence": resumed.json()["sequence"]},
                headers=READER.headers,
            ).json()
            assert shown["pauseRequested"] is False
