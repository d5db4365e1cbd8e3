"""The API's JSON shapes for commands: camelCase, the same names as plan requests,
documented in OpenAPI with an example each (the queries' answers: `read_schemas`).

Answers are built from the application's (`from_attributes`), so their fields are
its names, renamed to camelCase.
"""

from __future__ import annotations

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "planId": "7f3e2a9c-41d5-5b0e-9c1a-2d4f6b8e0a13",
                    "taskIds": [
                        "0b9d6c2e-7a41-4f3b-8e25-9c1d3f5a7b60",
                        "5e8a1f37-2c9b-4d06-a7e4-13b6f0c9d2a8",
                    ],
                    "sequence": 1042,
                    "created": True,
                }
            ]
        }
    )

    plan_id: UUID
    task_ids: list[UUID]
    sequence: int
    created: bool


class ActionBody(Camel):
    """An optional reason for the audit trail (and, for retry, where to start)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "hold for the 14:00 freeze", "fromCheckpoint": True}]
        }
    )

    reason: str | None = Field(default=None, max_length=1000)
    from_checkpoint: bool = True


class RecordedOut(Camel):
    """What a steering command recorded: the last event's sequence and the tasks it changed.

    `alreadyHeld` is true when nothing needed recording: the effect already held.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sequence": 1057,
                    "taskIds": ["0b9d6c2e-7a41-4f3b-8e25-9c1d3f5a7b60"],
                    "alreadyHeld": False,
                }
            ]
        }
    )

    sequence: int
    task_ids: list[UUID]
    already_held: bool = False


class HealthOut(Camel):
    """Whether the process is up (`/healthz`) or ready (`/readyz`), and why not."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "not ready",
                    "checks": {
                        "database": "ok",
                        "migrations": "ok",
                        "relay": "ok",
                        "projector": "12500 messages behind",
                    },
                }
            ]
        }
    )

    status: str
    checks: dict[str, str] = Field(default_factory=dict)
