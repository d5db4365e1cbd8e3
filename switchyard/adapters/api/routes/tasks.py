"""`/v1/tasks/{taskId}` and `/v1/tenants/{tenantId}`: steer one task, or a tenant's
current task. A token limited to other tenants gets 404, as if the task did not exist."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse

from switchyard.adapters.api.deps import Services, Writer, idempotency_key
from switchyard.adapters.api.routes.steering import Action, command, steer
from switchyard.adapters.api.schemas import ActionBody, RecordedOut
from switchyard.domain.errors import TaskNotFound, TenantNotFound

router = APIRouter(tags=["tasks"])

TaskId = Annotated[UUID, Path(alias="taskId", description="The task's id.")]
TenantId = Annotated[str, Path(alias="tenantId", description="The tenant's id.")]

STEERED = {
    "status_code": 202,
    "dependencies": [Depends(idempotency_key)],
    "response_model": RecordedOut,
    "responses": {200: {"model": RecordedOut, "description": "The effect already held."}},
}


@router.post("/v1/tasks/{taskId}/actions/{action}", **STEERED)  # type: ignore[arg-type]
def steer_task(
    request: Request,
    parts: Services,
    principal: Writer,
    task_id: TaskId,
    action: Action,
    body: Annotated[ActionBody | None, Body()] = None,
) -> JSONResponse:
    """Pause, resume, cancel, retry or roll back one task."""
    app = parts.app
    if principal.tenants is not None and not principal.may_see(app.get_task(task_id).tenant_id):
        raise TaskNotFound(task_id=str(task_id))
    run = command(app, action, "task", task_id, principal.actor, body or ActionBody())
    return steer(request, app, action, run, lambda: [app.describe_task(task_id)])


@router.post("/v1/tenants/{tenantId}/actions/{action}", **STEERED)  # type: ignore[arg-type]
def steer_tenant(
    request: Request,
    parts: Services,
    principal: Writer,
    tenant_id: TenantId,
    action: Action,
    body: Annotated[ActionBody | None, Body()] = None,
) -> JSONResponse:
    """Pause, resume, cancel, retry or roll back the tenant's current task."""
    app = parts.app
    if not principal.may_see(tenant_id):
        raise TenantNotFound(tenant_id=tenant_id)
    run = command(app, action, "tenant", tenant_id, principal.actor, body or ActionBody())
    return steer(request, app, action, run, lambda: [app.describe_tenant(tenant_id)])
