"""The whole service through its HTTP API: `switchyard dev` in a subprocess (API, scheduler,
relay and projector) runs a plan, and the test speaks only HTTP, with the calls of the
README's walkthrough ("A first plan over HTTP") on the same two instances: folders served
over HTTP whose `health` file says the version."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dev import Dev
from tests.support.waiting import wait_until

DEADLINE = 120.0
"""How long a plan may take to finish on a busy machine."""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class Instance:
    """An instance as the walkthrough makes one: a folder whose `health` file is served."""

    def __init__(self, folder: Path, version: str) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        self.report(version)
        handler = functools.partial(_Quiet, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"

    def report(self, version: str) -> None:
        """From now on, answer GET /health with this version."""
        (self.folder / "health").write_text(json.dumps({"version": version}))


@pytest.fixture()
def instances(tmp_path: Path) -> Iterator[dict[str, Instance]]:
    """acme's instance on the old version, globex's on the new one."""
    made = {
        "acme": Instance(tmp_path / "fleet" / "acme", "2.4.0"),
        "globex": Instance(tmp_path / "fleet" / "globex", "2.5.0"),
    }
    yield made
    for instance in made.values():
        instance.server.shutdown()
        instance.server.server_close()


def _tasks(api: httpx.Client, plan_id: str, **params: Any) -> dict[str, str]:
    found = api.get(f"/v1/plans/{plan_id}", params=params)
    assert found.status_code == 200, found.text
    return {task["tenantId"]: task["status"] for task in found.json()["tasks"]}


def test_the_walkthrough_pauses_resumes_finishes_and_reports_a_plan(
    dev: Dev, instances: dict[str, Instance]
) -> None:
    url, token = dev.line("API"), dev.line("token")
    assert url and token, dev.printed()
    plan = {
        "name": "rollout-2.5.0",
        "maxConcurrency": 1,
        "tenants": [
            {
                "tenantId": "acme",
                "serviceType": "blue-green-gateway",
                "targetVersion": "2.5.0",
                "endpoints": [instances["acme"].endpoint],
                "healthCheck": {"interval": "1s", "maxAttempts": 120},
            },
            {
                "tenantId": "globex",
                "serviceType": "blue-green-gateway",
                "targetVersion": "2.5.0",
                "endpoints": [instances["globex"].endpoint],
            },
        ],
    }
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as api:
        key = {"Idempotency-Key": "rollout-2.5.0"}
        created = api.post("/v1/plans", json=plan, headers=key)
        assert created.status_code == 201, created.text
        plan_id = created.json()["planId"]
        assert created.headers["Location"] == f"/v1/plans/{plan_id}"
        again = api.post("/v1/plans", json=plan, headers=key)
        assert again.json().get("planId") == plan_id, again.text

        # acme holds the plan's one slot, polling; globex waits, and is paused there.
        paused = api.post("/v1/tenants/globex/actions/pause", json={"reason": "freeze"})
        assert paused.status_code == 202, paused.text
        seen = _tasks(api, plan_id, minSequence=paused.json()["sequence"])
        assert seen == {"acme": "RUNNING", "globex": "PAUSED"}, seen

        instances["acme"].report("2.5.0")
        wait_until(lambda: _tasks(api, plan_id)["acme"] == "COMPLETED", DEADLINE, "acme")
        assert _tasks(api, plan_id)["globex"] == "PAUSED", "ran while paused"

        resumed = api.post("/v1/tenants/globex/actions/resume")
        assert resumed.status_code == 202, resumed.text
        with api.stream("GET", f"/v1/plans/{plan_id}/events", timeout=DEADLINE) as events:
            lines = list(events.iter_lines())
        kinds = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
        assert kinds[-1] == "end" and kinds.count("Completed") == 2, kinds
        end = json.loads(lines[lines.index("event: end") + 1].removeprefix("data: "))
        last = {"minSequence": end["sequence"]}

        report = api.get(f"/v1/plans/{plan_id}/report", params=last)
        assert report.status_code == 200, report.text
        tenants = {t["tenantId"]: t for t in report.json()["tenants"]}
        assert {t["result"] for t in tenants.values()} == {"COMPLETED"}
        assert {t["versionAfter"] for t in tenants.values()} == {"2.5.0"}
        steering = tenants["globex"]["steering"]
        assert [s["reason"] for s in steering if s["reason"]] == ["freeze"], steering
        assert {s["actor"] for s in steering} == {report.json()["createdBy"]}, "not the token's"
        page = api.get(f"/v1/plans/{plan_id}/report", headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "globex" in page.text

        trail = api.get("/v1/audit", params={"plan": plan_id, "order": "asc", **last})
        sequences = [event["sequence"] for event in trail.json()["events"]]
        assert sequences == sorted(sequences) and len(sequences) > 2 * len(plan["tenants"])
