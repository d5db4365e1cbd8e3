"""`GET /v1/audit`: the audit trail from the read tables, every filter, newest (or oldest)
first, paged by sequence; `GET /v1/audit/{sequence}`: one event, its payload whole. Needs
the audit scope; a token limited to some tenants sees only their tenants' events."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query

from switchyard.adapters.api.deps import Auditor, Services
from switchyard.adapters.api.params import (
    LARGEST_SEQUENCE,
    Limit,
    MinSequence,
    text_query,
    utc,
)
from switchyard.adapters.api.read_schemas import AuditEventOut, AuditPageOut
from switchyard.adapters.api.reading import read
from switchyard.adapters.api.representation import audit_event, audit_page
from switchyard.domain.errors import AuditEventNotFound
from switchyard.projections.queries import audit, audit_event_row

router = APIRouter(tags=["audit"])

AT = ["2026-12-01T10:00:00Z"]


@router.get("/v1/audit", response_model=AuditPageOut)
def audit_trail(
    parts: Services,
    principal: Auditor,
    limit: Limit,
    min_sequence: MinSequence = None,
    task: Annotated[UUID | None, Query(description="Only this task's events.")] = None,
    tenant: Annotated[str | None, text_query("Only this tenant's events.", "acme")] = None,
    plan: Annotated[UUID | None, Query(description="Only this plan's events.")] = None,
    actor: Annotated[str | None, text_query("Only events this actor caused.", "cli:bob")] = None,
    type: Annotated[
        str | None,
        text_query("Only this event type (`StageFailed`, or `Task.StageFailed`).", "StageFailed"),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Only events at or after this time (UTC if no zone).", examples=AT),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="Only events before this time (UTC if no zone).", examples=AT),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=LARGEST_SEQUENCE, description="The page after this sequence (`next`)."),
    ] = None,
    order: Annotated[
        Literal["desc", "asc"], Query(description="Newest first (`desc`) or oldest first.")
    ] = "desc",
) -> AuditPageOut:
    """List the audit trail's events, filtered, paged by sequence."""
    rows = read(
        parts,
        lambda conn: audit(
            conn,
            task=None if task is None else str(task),
            tenant=tenant,
            plan=None if plan is None else str(plan),
            actor=actor,
            type=type,
            since=utc(since),
            until=utc(until),
            limit=limit,
            after=after,
            oldest_first=order == "asc",
            tenants=principal.tenants,
        ),
        min_sequence,
    )
    return audit_page(rows, limit)


@router.get("/v1/audit/{sequence}", response_model=AuditEventOut)
def audit_event_whole(
    parts: Services,
    principal: Auditor,
    sequence: Annotated[
        int, Path(ge=0, le=LARGEST_SEQUENCE, description="The event's sequence.", examples=[1057])
    ],
    min_sequence: MinSequence = None,
) -> AuditEventOut:
    """Show one event of the audit trail, its payload whole (a page leaves out large ones)."""
    row = read(parts, lambda conn: audit_event_row(conn, sequence, principal.tenants), min_sequence)
    if row is None:
        raise AuditEventNotFound(sequence=sequence)
    return audit_event(row)
