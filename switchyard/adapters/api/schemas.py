"""The API's JSON shapes: camelCase, the same names as plan requests, documented in OpenAPI.

Response models are built from the read side's rows and the application's answers
(`from_attributes`), so their fields are those of the rows, renamed to camelCase.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Camel(BaseModel):
    """A JSON object with camelCase keys (snake_case accepted on input)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, frozen=True
    )


class TenantRequest(Camel):
    """One tenant's deploy config in a plan request."""

    model_config = ConfigDict(extra="allow")

    tenant_id: str = Field(examples=["acme"])
    service_type: str = Field(examples=["blue-green-gateway"])
    target_version: str | None = Field(default=None, examples=["2.5.0"])
    endpoints: list[str] = Field(examples=[["10.0.4.12:8081", "10.0.4.13:8081"]])
    registry: dict[str, Any] | None = None
    health_check: dict[str, Any] | None = None
    overrides: dict[str, Any] | None = None


class PlanRequestBody(Camel):
    """A plan request: one task per tenant, in FIFO order, run with a concurrency limit.

    The service validates it as a whole (every problem is listed, by field path).
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "name": "green-rollout-2.5.0",
                    "maxConcurrency": 2,
                    "tenants": [
                        {
                            "tenantId": "acme",
                            "serviceType": "blue-green-gateway",
                            "targetVersion": "2.5.0",
                            "endpoints": ["10.0.4.12:8081"],
                        }
                    ],
                }
            ]
        },
    )

    name: str | None = None
    max_concurrency: int | None = None
    supersede: bool | None = None
    tenants: list[TenantRequest]


class PlanCreatedOut(Camel):
    """A recorded plan: its id, its tasks' ids in FIFO order, and the sequence to read at."""

    plan_id: UUID
    task_ids: list[UUID]
    sequence: int
    created: bool


class ActionBody(Camel):
    """An optional reason for the audit trail (and, for retry, where to start)."""

    reason: str | None = Field(default=None, max_length=1000)
    from_checkpoint: bool = True


class RecordedOut(Camel):
    """What a steering command recorded: the last event's sequence and the tasks it changed.

    `alreadyHeld` is true when nothing needed recording: the effect already held.
    """

    sequence: int
    task_ids: list[UUID]
    already_held: bool = False


class PlanOut(Camel):
    """A plan: status, counts by task status, progress, who made it and when."""

    plan_id: str
    name: str | None
    status: str
    task_counts: dict[str, int]
    tasks_total: int
    stages_done: int
    stages_total: int
    max_concurrency: int | None
    created_by: str | None
    created_at: datetime | None
    finished_at: datetime | None


class TaskOut(Camel):
    """A task: where it is, who holds it, what failed, what it waits for."""

    task_id: str
    plan_id: str
    tenant_id: str
    position: int
    service_type: str
    target_version: str
    status: str
    current_stage: str | None
    completed_stages: int
    total_stages: int
    pause_requested: bool
    cancel_requested: bool
    attempt: int
    failed_stage: str | None
    failure_message: str | None
    has_checkpoint: bool
    owner: str | None
    fence: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    waiting_for: str | None


class TenantOut(Camel):
    """A tenant: the version it was last switched to, its latest task, what blocks it."""

    tenant_id: str
    service_type: str | None
    version: str | None
    switched_by_task: str | None
    latest_task: str | None
    latest_task_status: str | None
    blocked_by: str | None


class AuditEventOut(Camel):
    """One event of the audit trail."""

    sequence: int
    time: datetime
    actor: str | None
    aggregate_type: str
    aggregate_id: str
    version: int
    event_type: str
    tenant_id: str | None
    plan_id: str | None
    traceparent: str | None
    payload: dict[str, Any]


class PlanDetailOut(Camel):
    """A plan and a page of its tasks in FIFO order; `next` is the position to page after."""

    plan: PlanOut
    tasks: list[TaskOut]
    next: int | None


class PlanPageOut(Camel):
    """A page of plans, newest first; `next` is the cursor of the page after."""

    plans: list[PlanOut]
    next: str | None


class TenantPageOut(Camel):
    """A page of tenants by id; `next` is the tenant id to page after."""

    tenants: list[TenantOut]
    next: str | None


class AuditPageOut(Camel):
    """A page of audit events; `next` is the sequence to page after."""

    events: list[AuditEventOut]
    next: int | None


class HealthOut(Camel):
    """Whether the process is up (`/healthz`) or ready (`/readyz`), and why not."""

    status: str
    checks: dict[str, str] = Field(default_factory=dict)
