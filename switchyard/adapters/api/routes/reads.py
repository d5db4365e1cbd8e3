"""`GET /v1/plans`, `/v1/plans/{planId}` and `/v1/tasks/{taskId}`: plans newest first, a
plan with a page of its tasks, and one task, from the read tables.

A token limited to some tenants sees the plans with a task of theirs, and only
their tasks; anything else answers 404 as if it did not exist.
"""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from sqlalchemy import Connection

from switchyard.adapters.api.deps import Reader, Services
from switchyard.adapters.api.params import (
    PRINTABLE,
    Limit,
    MinSequence,
    invalid_field,
    text_query,
    utc,
)
from switchyard.adapters.api.read_schemas import PlanDetailOut, PlanPageOut, TaskOut
from switchyard.adapters.api.reading import read, read_one
from switchyard.adapters.api.representation import parse_plan_cursor, plan_detail, plan_page
from switchyard.domain.errors import PlanNotFound, TaskNotFound
from switchyard.domain.status import PlanStatus, TaskStatus
from switchyard.projections.fleet import TaskRow, get_task_params, get_task_query, plan_tasks
from switchyard.projections.queries import get_plan, list_plans

router = APIRouter(tags=["plans"])

PlanId = Annotated[UUID, Path(alias="planId", description="The plan's id.")]
TaskId = Annotated[UUID, Path(alias="taskId", description="The task's id.")]


@router.get("/v1/plans", response_model=PlanPageOut)
def plans(
    parts: Services,
    principal: Reader,
    limit: Limit,
    min_sequence: MinSequence = None,
    status: Annotated[PlanStatus | None, Query(description="Only plans in this status.")] = None,
    since: Annotated[
        datetime | None,
        Query(
            description="Only plans made at or after this time (UTC if no zone).",
            examples=["2026-12-01T10:00:00Z"],
        ),
    ] = None,
    actor: Annotated[str | None, text_query("Only plans this actor made.", "cli:alice")] = None,
    after: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=PRINTABLE,
            description="The page after this cursor (the previous page's `next`).",
            examples=["2026-12-01T10:00:00+00:00~0b9f6c1e-52a4-4f0e-9a53-2f1d8d1f6a10"],
        ),
    ] = None,
) -> PlanPageOut:
    """List plans, newest first."""
    try:
        cursor = None if after is None else parse_plan_cursor(after)
    except ValueError:
        raise invalid_field("after", "cursor", "not the `next` of a page of plans") from None
    rows = read(
        parts,
        lambda conn: list_plans(
            conn,
            status=None if status is None else status.value,
            since=utc(since),
            actor=actor,
            limit=limit,
            after=cursor,
            tenants=principal.tenants,
        ),
        min_sequence,
    )
    return plan_page(rows, limit)


@router.get("/v1/plans/{planId}", response_model=PlanDetailOut)
def plan(
    parts: Services,
    principal: Reader,
    plan_id: PlanId,
    limit: Limit,
    min_sequence: MinSequence = None,
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status.")] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0, le=2**31 - 1, description="The page after this position (`next`).", examples=[99]
        ),
    ] = None,
) -> PlanDetailOut:
    """Show a plan and a page of its tasks in FIFO order."""
    pid, tenants = str(plan_id), principal.tenants

    def found(conn: Connection) -> PlanDetailOut:
        row = get_plan(conn, pid, tenants)
        if row is None:
            raise PlanNotFound(plan_id=pid)
        chosen = None if status is None else status.value
        page = plan_tasks(conn, pid, status=chosen, limit=limit, after=after, tenants=tenants)
        return plan_detail(row, page, limit)

    return read(parts, found, min_sequence)


@router.get("/v1/tasks/{taskId}", response_model=TaskOut)
async def task(
    parts: Services, principal: Reader, task_id: TaskId, min_sequence: MinSequence = None
) -> TaskOut:
    """Show one task: where it is, who holds it, what failed, what it waits for."""
    tenants = principal.tenants
    query, params = get_task_query(tenants is not None), get_task_params(str(task_id), tenants)
    row = await read_one(parts, query, params, TaskRow, min_sequence)
    if row is None:
        raise TaskNotFound(task_id=str(task_id))
    return TaskOut.model_validate(row)
