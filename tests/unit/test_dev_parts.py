"""What `switchyard dev` and `demo --api` are built from: the API's listening socket, the
files published in the data folder, and the API client's errors (its HTTP answers faked
at the transport, the true boundary)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx
import pytest

from switchyard.adapters.cli.dev import listen
from switchyard.adapters.cli.published import API_TOKEN_FILE, published, read_published
from switchyard.adapters.demo.client import PlanClient, problem_of
from switchyard.domain.errors import ApiAddressInUse, ApiCallFailed


def test_listen_on_port_zero_takes_a_free_port() -> None:
    with listen("127.0.0.1", 0) as listening:
        assert listening.getsockname()[1] > 0


def test_listen_on_a_port_in_use_is_address_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ApiAddressInUse) as raised:
            listen("127.0.0.1", taken.getsockname()[1])
    assert raised.value.code == "api.address_in_use"


def test_published_files_are_the_owners_only_and_gone_after(tmp_path: Path) -> None:
    with published(tmp_path, {API_TOKEN_FILE: "sy_secret"}):
        assert read_published(tmp_path).token == "sy_secret"
        assert (tmp_path / API_TOKEN_FILE).stat().st_mode & 0o777 == 0o600
    assert read_published(tmp_path).token is None


def test_a_published_file_replaced_by_another_run_is_kept(tmp_path: Path) -> None:
    with published(tmp_path, {API_TOKEN_FILE: "sy_first"}):
        (tmp_path / API_TOKEN_FILE).write_text("sy_second\n")
    assert read_published(tmp_path).token == "sy_second"


def client_answering(response: httpx.Response) -> PlanClient:
    """A client whose every call gets this answer."""
    return PlanClient("http://api.test", "sy_t", transport=httpx.MockTransport(lambda _: response))


def test_an_error_answer_is_call_failed_with_its_status_and_problem_code() -> None:
    problem = {"type": "about:blank", "title": "t", "status": 403, "code": "auth.forbidden"}
    with (
        client_answering(httpx.Response(403, json=problem)) as client,
        pytest.raises(ApiCallFailed) as raised,
    ):
        client.plan_detail(uuid.uuid4())
    assert raised.value.code == "api.call_failed"
    assert raised.value.details["status"] == 403
    assert problem_of(raised.value) == "auth.forbidden"


def test_an_error_answer_that_is_no_problem_document_has_an_unknown_problem() -> None:
    with (
        client_answering(httpx.Response(502, text="bad gateway")) as client,
        pytest.raises(ApiCallFailed) as raised,
    ):
        client.create_plan({"tenants": []})
    assert raised.value.details["status"] == 502 and problem_of(raised.value) == "unknown"


def test_no_answer_is_call_failed_without_a_status() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transport = httpx.MockTransport(refuse)
    with (
        PlanClient("http://api.test", "sy_t", transport) as client,
        pytest.raises(ApiCallFailed) as raised,
    ):
        client.plan_detail(uuid.uuid4())
    assert "status" not in raised.value.details and problem_of(raised.value) is None
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def test_a_plan_is_created_with_the_token_and_an_idempotency_key() -> None:
    seen: list[httpx.Request] = []
    plan_id, task_id = uuid.uuid4(), uuid.uuid4()

    def created(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"planId": str(plan_id), "taskIds": [str(task_id)], "sequence": 3, "created": True}
        return httpx.Response(201, json=body)

    with PlanClient("http://api.test/", "sy_t", httpx.MockTransport(created)) as client:
        answer = client.create_plan({"tenants": []})
    assert answer.plan_id == plan_id and answer.task_ids == [task_id]
    assert seen[0].url.path == "/v1/plans"
    assert seen[0].headers["Authorization"] == "Bearer sy_t"
    assert uuid.UUID(seen[0].headers["Idempotency-Key"])


def test_a_plan_is_read_page_after_page_until_no_next() -> None:
    plan_id = uuid.uuid4()

    def task(position: int) -> dict[str, object]:
        return {
            "taskId": str(uuid.uuid4()),
            "planId": str(plan_id),
            "tenantId": f"t{position}",
            "position": position,
            "serviceType": "blue-green-gateway",
            "targetVersion": "2.5.0",
            "status": "QUEUED",
            "currentStage": None,
            "completedStages": 0,
            "totalStages": 3,
            "pauseRequested": False,
            "cancelRequested": False,
            "attempt": 0,
            "failedStage": None,
            "failureMessage": None,
            "hasCheckpoint": False,
            "owner": None,
            "fence": None,
            "createdAt": "2026-01-01T00:00:00Z",
            "startedAt": None,
            "finishedAt": None,
            "waitingFor": None,
        }

    plan = {
        "planId": str(plan_id),
        "name": None,
        "status": "QUEUED",
        "taskCounts": {"QUEUED": 3},
        "tasksTotal": 3,
        "stagesDone": 0,
        "stagesTotal": 9,
        "maxConcurrency": None,
        "createdBy": "dev",
        "createdAt": None,
        "finishedAt": None,
    }
    pages = {
        None: {"plan": plan, "tasks": [task(0), task(1)], "next": 1},
        "1": {"plan": plan, "tasks": [task(2)], "next": None},
    }

    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("after")])

    with PlanClient("http://api.test", "sy_t", httpx.MockTransport(page)) as client:
        detail = client.plan_detail(plan_id)
    assert [t.tenant_id for t in detail.tasks] == ["t0", "t1", "t2"]
    assert detail.next is None
