"""`switchyard tenants` and `switchyard audit`: fleet-wide questions and the audit trail,
answered from the read tables."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import Connection

from switchyard.adapters.api.read_schemas import AuditEventOut, AuditPageOut, TenantPageOut
from switchyard.adapters.api.representation import audit_event, audit_page, tenant_page
from switchyard.adapters.cli.common import JsonOption
from switchyard.adapters.cli.read_output import (
    print_audit_event,
    print_audit_page,
    print_tenant_page,
)
from switchyard.adapters.cli.reads import (
    LimitOption,
    MinSequenceOption,
    TimeOption,
    iso,
    parse_time,
    read_tables,
)
from switchyard.adapters.cli.remote import remote, unavailable_with
from switchyard.domain.errors import AuditEventNotFound
from switchyard.projections.fleet import list_tenants
from switchyard.projections.queries import AuditRow, audit, audit_event_row


def tenants(
    version: Annotated[str | None, typer.Option(help="Only tenants switched to it.")] = None,
    service_type: Annotated[str | None, typer.Option(help="Only this service type.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only tenants whose latest task is in this status.")
    ] = None,
    blocked: Annotated[
        bool, typer.Option("--blocked", help="Only tenants whose latest task waits for another.")
    ] = False,
    limit: LimitOption = 100,
    after: Annotated[str | None, typer.Option(help="The page after this tenant id.")] = None,
    min_sequence: MinSequenceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which tenants run which version, and which are blocked by which task."""
    wanted = None if status is None else status.upper()
    api = remote()
    if api is not None:
        if blocked:
            raise unavailable_with("--blocked")
        page = api.get(
            TenantPageOut,
            "/v1/tenants",
            version=version,
            serviceType=service_type,
            status=wanted,
            limit=limit,
            after=after,
            minSequence=min_sequence,
        )
    else:
        found = read_tables(
            lambda conn: list_tenants(
                conn,
                version=version,
                service_type=service_type,
                status=wanted,
                blocked=blocked,
                limit=limit,
                after=after,
            ),
            min_sequence,
        )
        page = tenant_page(found, limit)
    print_tenant_page(page, as_json)


def audit_command(
    task: Annotated[str | None, typer.Option(help="Only this task's events.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
    plan: Annotated[str | None, typer.Option(help="Only this plan's events.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only events this actor caused.")] = None,
    type: Annotated[
        str | None, typer.Option(help="Only this event type (StageFailed or Task.StageFailed).")
    ] = None,
    since: TimeOption = None,
    until: TimeOption = None,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Oldest first (default: newest first).")
    ] = False,
    limit: LimitOption = 100,
    after: Annotated[
        int | None, typer.Option(help="The page after this sequence (the cursor printed).")
    ] = None,
    sequence: Annotated[
        int | None,
        typer.Option(help="Only this event, its payload whole (a page leaves out large ones)."),
    ] = None,
    min_sequence: MinSequenceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: every event, filtered, newest first, paged by sequence."""
    if sequence is not None:
        print_audit_event(_one_event(sequence, min_sequence), as_json)
        return
    api = remote()
    if api is not None:
        page = api.get(
            AuditPageOut,
            "/v1/audit",
            task=task,
            tenant=tenant,
            plan=plan,
            actor=actor,
            type=type,
            since=iso(parse_time(since)),
            until=iso(parse_time(until)),
            limit=limit,
            after=after,
            order="asc" if oldest_first else "desc",
            minSequence=min_sequence,
        )
    else:
        found = read_tables(
            lambda conn: audit(
                conn,
                task=task,
                tenant=tenant,
                plan=plan,
                actor=actor,
                type=type,
                since=parse_time(since),
                until=parse_time(until),
                limit=limit,
                after=after,
                oldest_first=oldest_first,
            ),
            min_sequence,
        )
        page = audit_page(found, limit)
    print_audit_page(page, as_json)


def _one_event(sequence: int, min_sequence: int | None) -> AuditEventOut:
    """The audit event with this sequence, from the API or the read tables."""
    api = remote()
    if api is not None:
        return api.get(AuditEventOut, f"/v1/audit/{sequence}", minSequence=min_sequence)

    def found(conn: Connection) -> AuditRow:
        row = audit_event_row(conn, sequence)
        if row is None:
            raise AuditEventNotFound(sequence=sequence)
        return row

    return audit_event(read_tables(found, min_sequence))
