"""The API's answers to queries: the read side's plans, tasks, tenants and audit events,
and their pages, in camelCase (built from the read tables' rows, `from_attributes`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from switchyard.adapters.api.schemas import Camel


class PlanOut(Camel):
    """A plan: status, counts by task status, progress, who made it and when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "planId": "7f3e2a9c-41d5-5b0e-9c1a-2d4f6b8e0a13",
                    "name": "green-rollout-2.5.0",
                    "status": "RUNNING",
                    "taskCounts": {"COMPLETED": 1, "RUNNING": 1},
                    "tasksTotal": 2,
                    "stagesDone": 4,
                    "stagesTotal": 6,
                    "maxConcurrency": 2,
                    "createdBy": "deploy-bot",
                    "createdAt": "2026-12-01T14:02:11Z",
                    "finishedAt": None,
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "taskId": "5e8a1f37-2c9b-4d06-a7e4-13b6f0c9d2a8",
                    "planId": "7f3e2a9c-41d5-5b0e-9c1a-2d4f6b8e0a13",
                    "tenantId": "globex",
                    "position": 1,
                    "serviceType": "portal",
                    "targetVersion": "2.5.0",
                    "status": "RUNNING",
                    "currentStage": "HealthCheck",
                    "completedStages": 2,
                    "totalStages": 3,
                    "pauseRequested": False,
                    "cancelRequested": False,
                    "attempt": 1,
                    "failedStage": None,
                    "failureMessage": None,
                    "hasCheckpoint": True,
                    "owner": "sched-a:4121:9f2c1d",
                    "fence": 3,
                    "createdAt": "2026-12-01T14:02:11Z",
                    "startedAt": "2026-12-01T14:02:12Z",
                    "finishedAt": None,
                    "waitingFor": None,
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenantId": "acme",
                    "serviceType": "blue-green-gateway",
                    "version": "2.5.0",
                    "switchedByTask": "0b9d6c2e-7a41-4f3b-8e25-9c1d3f5a7b60",
                    "latestTask": "0b9d6c2e-7a41-4f3b-8e25-9c1d3f5a7b60",
                    "latestTaskStatus": "COMPLETED",
                    "blockedBy": None,
                }
            ]
        }
    )

    tenant_id: str
    service_type: str | None
    version: str | None
    switched_by_task: str | None
    latest_task: str | None
    latest_task_status: str | None
    blocked_by: str | None


class AuditEventOut(Camel):
    """One event of the audit trail."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sequence": 1057,
                    "time": "2026-12-01T14:05:40Z",
                    "actor": "deploy-bot",
                    "aggregateType": "Task",
                    "aggregateId": "5e8a1f37-2c9b-4d06-a7e4-13b6f0c9d2a8",
                    "version": 9,
                    "eventType": "PauseRequested",
                    "tenantId": "globex",
                    "planId": "7f3e2a9c-41d5-5b0e-9c1a-2d4f6b8e0a13",
                    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "payload": {"actor": "deploy-bot", "reason": "hold for the 14:00 freeze"},
                }
            ]
        }
    )

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
    payload: dict[str, Any] | None = Field(
        description="The event's fields; null in a page where they are too large "
        "(`payloadOmitted`): `GET /v1/audit/{sequence}` has them whole."
    )
    payload_omitted: bool = Field(
        default=False, description="True where a page left out a large payload."
    )


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


class CheckpointOut(Camel):
    """Whether the tenant's current task has a checkpoint a retry can start from."""

    tenant_id: str = Field(examples=["acme"])
    has_checkpoint: bool
    task_id: str = Field(description="The tenant's current task.")
