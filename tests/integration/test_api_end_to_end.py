"""The whole service through its HTTP API: `switchyard dev` in a subprocess (API, scheduler,
relay and projector) runs plans against the simulated fleet; the test only speaks HTTP,
with the calls the README's curl walkthrough makes."""

from __future__ import annotations

from typing import Any

import httpx

from switchyard.adapters.demo.fleet import Fleet
from tests.support.dev import Dev
from tests.support.waiting import wait_until

DEADLINE = 120.0
"""How long a plan may take to finish on a busy machine."""


def _plan(name: str, version: str, endpoints: list[str]) -> dict[str, Any]:
    """A one-tenant plan for acme on these fleet instances (they answer GET /health)."""
    return {
        "name": name,
        "tenants": [
            {
                "tenantId": "acme",
                "serviceType": "blue-green-gateway",
                "targetVersion": version,
                "endpoints": endpoints,
                "healthCheck": {"interval": "0.2s", "maxAttempts": 100_000},
            }
        ],
    }


def _status(api: httpx.Client, plan_id: str) -> str:
    found = api.get(f"/v1/plans/{plan_id}")
    return str(found.json()["plan"]["status"]) if found.status_code == 200 else "unseen"


def test_a_plan_over_http_is_paused_resumed_finished_and_reported(dev: Dev) -> None:
    url, token, redis_url = dev.line("API"), dev.line("token"), dev.line("redis")
    assert url and token and redis_url, dev.printed()
    auth = {"Authorization": f"Bearer {token}"}
    with Fleet(redis_url) as fleet, httpx.Client(base_url=url, headers=auth, timeout=30) as api:
        # acme's first plan holds: its only instance never reports the new version...
        holding = api.post("/v1/plans", json=_plan("hold", "2.4.0", fleet.add_tenant("acme", 1, 1)))
        assert holding.status_code == 201, holding.text
        # ...so the second plan's task for acme waits behind it, and is paused there.
        body = _plan("rollout-2.5.0", "2.5.0", fleet.add_tenant("acme", 2))
        created = api.post("/v1/plans", json=body, headers={"Idempotency-Key": "rollout-2.5.0"})
        assert created.status_code == 201, created.text
        assert created.headers["Location"] == f"/v1/plans/{created.json()['planId']}"
        plan_id, task_id = created.json()["planId"], created.json()["taskIds"][0]
        again = api.post("/v1/plans", json=body, headers={"Idempotency-Key": "rollout-2.5.0"})
        assert again.json()["planId"] == plan_id, "a retried create made a second plan"

        paused = api.post(f"/v1/plans/{plan_id}/actions/pause", json={"reason": "freeze"})
        assert paused.status_code == 202, paused.text
        seen = {"minSequence": paused.json()["sequence"]}
        assert api.get(f"/v1/tasks/{task_id}", params=seen).json()["status"] == "PAUSED"

        fleet.release("acme")
        hold_id = holding.json()["planId"]
        wait_until(lambda: _status(api, hold_id) == "COMPLETED", DEADLINE, "the first plan")
        assert api.get(f"/v1/tasks/{task_id}").json()["status"] == "PAUSED", "ran while paused"

        resumed = api.post(f"/v1/plans/{plan_id}/actions/resume", json={"reason": "thaw"})
        assert resumed.status_code == 202, resumed.text
        wait_until(lambda: _status(api, plan_id) == "COMPLETED", DEADLINE, "the rollout")
        assert set(fleet.versions("acme")) == {"2.5.0"}

        report = api.get(f"/v1/plans/{plan_id}/report")
        assert report.status_code == 200, report.text
        (acme,) = report.json()["tenants"]
        assert (acme["result"], acme["versionBefore"], acme["versionAfter"]) == (
            "COMPLETED",
            "2.4.0",
            "2.5.0",
        )
        steering = acme["steering"]
        assert {"freeze", "thaw"} <= {s["reason"] for s in steering}, steering
        assert {s["actor"] for s in steering} == {report.json()["createdBy"]}, "not the token's"
        page = api.get(f"/v1/plans/{plan_id}/report", headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "acme" in page.text and "2.5.0" in page.text
