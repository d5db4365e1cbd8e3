"""`/v1/plans`: create a plan, steer all of its tasks.

Creating a plan answers 201 with the plan's and tasks' ids, the sequence to read
at, and its `Location`. A token limited to some tenants may only plan for them
(403 otherwise), and only steer plans whose tenants are all its own (404 when
none is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse

from switchyard.adapters.api.deps import IdempotencyKey, Services, Writer, idempotency_key
from switchyard.adapters.api.problems import ApiProblem
from switchyard.adapters.api.routes.steering import Action, command, steer
from switchyard.adapters.api.schemas import ActionBody, PlanCreatedOut, PlanRequestBody, RecordedOut
from switchyard.adapters.api.tokens import Principal
from switchyard.application.tracing import trace_context
from switchyard.domain.errors import PlanNotFound

router = APIRouter(prefix="/v1/plans", tags=["plans"])

PlanId = Annotated[UUID, Path(alias="planId", description="The plan's id.")]


@router.post(
    "",
    status_code=201,
    response_model=PlanCreatedOut,
    responses={422: {"description": "The request is invalid: every problem, by field path."}},
)
def create_plan(
    request: Request,
    parts: Services,
    principal: Writer,
    body: Annotated[PlanRequestBody, Body()],
    key: IdempotencyKey,
) -> JSONResponse:
    """Validate a plan request and record the plan, one queued task per tenant."""
    raw: dict[str, Any] = body.model_dump(by_alias=True, exclude_unset=True)
    raw["tenants"] = [t.model_dump(by_alias=True, exclude_unset=True) for t in body.tenants]
    _only_own_tenants(principal, [t.tenant_id for t in body.tenants])
    if len(body.tenants) > parts.settings.api_max_tenants:
        raise ApiProblem(
            422,
            f"a plan may have at most {parts.settings.api_max_tenants} tenants",
            "plan.too_many_tenants",
        )
    with trace_context(request.headers.get("traceparent")):
        # The key reaches the plan's id too: a retry after a crash between the plan's
        # save and the stored response finds the plan instead of making a second.
        scoped = None if key is None else f"{principal.token_id}:{key}"
        created = parts.app.create_plan(raw, principal.actor, scoped)
    out = PlanCreatedOut(
        plan_id=created.plan_id,
        task_ids=list(created.task_ids),
        sequence=created.sequence,
        created=created.created,
    )
    return JSONResponse(
        out.model_dump(mode="json", by_alias=True),
        status_code=201 if created.created else 200,
        headers={"Location": f"/v1/plans/{created.plan_id}"},
    )


@router.post(
    "/{planId}/actions/{action}",
    status_code=202,
    dependencies=[Depends(idempotency_key)],
    response_model=RecordedOut,
    responses={200: {"model": RecordedOut, "description": "The effect already held."}},
)
def steer_plan(
    request: Request,
    parts: Services,
    principal: Writer,
    plan_id: PlanId,
    action: Action,
    body: Annotated[ActionBody | None, Body()] = None,
) -> JSONResponse:
    """Pause, resume, cancel, retry or roll back every task of the plan that can be."""
    app = parts.app
    if principal.tenants is not None:
        tenants = app.get_plan(plan_id).tenant_ids
        if not any(principal.may_see(t) for t in tenants):
            raise PlanNotFound(plan_id=str(plan_id))
        _only_own_tenants(principal, tenants)
    run = command(app, action, "plan", plan_id, principal.actor, body or ActionBody())
    return steer(request, app, action, run, lambda: app.describe_plan(plan_id).tasks)


def _only_own_tenants(principal: Principal, tenants: Sequence[str]) -> None:
    """Refuse (403) a token limited to some tenants acting for others."""
    others = sorted({t for t in tenants if not principal.may_see(t)})
    if others:
        raise ApiProblem(403, f"the token may not act for tenants {', '.join(others[:10])}")
