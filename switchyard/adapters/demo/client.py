"""A small client of switchyard's HTTP API for `switchyard demo --api`: create a plan, read it.

Every failure is an `api.call_failed` error with the HTTP status and the problem's
`code` (RFC 9457 body) when the API answered, or the transport error when it did not.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx

from switchyard.adapters.api.read_schemas import PlanDetailOut
from switchyard.adapters.api.schemas import PlanCreatedOut
from switchyard.domain.errors import ApiCallFailed

TIMEOUT_SECONDS = 30.0
"""How long one call may take (creating a large plan included)."""


class PlanClient:
    """Calls the API with a bearer token; closed with the `with` block."""

    def __init__(
        self, base_url: str, token: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    def __enter__(self) -> PlanClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def create_plan(self, request: Mapping[str, Any]) -> PlanCreatedOut:
        """`POST /v1/plans` (with an Idempotency-Key, so a retried call makes one plan)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        answer = self._call("POST", "/v1/plans", json=dict(request), headers=headers)
        return PlanCreatedOut.model_validate(answer)

    def plan_detail(self, plan_id: UUID) -> PlanDetailOut:
        """`GET /v1/plans/{planId}`, page after page (`after`): the plan and all of its tasks
        in FIFO order."""
        path = f"/v1/plans/{plan_id}"
        detail = PlanDetailOut.model_validate(self._call("GET", path))
        tasks = list(detail.tasks)
        while detail.next is not None:
            detail = PlanDetailOut.model_validate(
                self._call("GET", path, params={"after": detail.next})
            )
            tasks.extend(detail.tasks)
        return detail.model_copy(update={"tasks": tasks})

    def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise ApiCallFailed(
                f"{method} {path}: no answer from the API ({type(exc).__name__}: {exc})",
                method=method,
                path=path,
            ) from exc
        if response.is_success:
            return response.json()
        problem = _problem_code(response)
        raise ApiCallFailed(
            f"{method} {path} answered {response.status_code} [{problem}]",
            method=method,
            path=path,
            status=response.status_code,
            problem=problem,
        )


def _problem_code(response: httpx.Response) -> str:
    """The problem body's `code`, or "unknown" when the body is no problem document."""
    try:
        body = response.json()
    except ValueError:
        return "unknown"
    code = body.get("code") if isinstance(body, dict) else None
    return str(code) if code else "unknown"


def problem_of(error: ApiCallFailed) -> str | None:
    """The problem code an API error answered with, or None if the API did not answer."""
    problem = error.details.get("problem")
    return None if problem is None else str(problem)
