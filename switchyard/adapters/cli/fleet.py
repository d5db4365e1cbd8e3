"""`switchyard tenants` and `switchyard audit`: fleet-wide questions and the audit trail,
answered from the read tables."""

from __future__ import annotations

from typing import Annotated

import typer

from switchyard.adapters.cli.common import JsonOption
from switchyard.adapters.cli.output import console, print_json
from switchyard.adapters.cli.read_output import show_audit_rows, show_tenant_rows
from switchyard.adapters.cli.reads import (
    LimitOption,
    MinSequenceOption,
    TimeOption,
    parse_time,
    read_tables,
)
from switchyard.projections.fleet import list_tenants
from switchyard.projections.queries import audit


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
    found = read_tables(
        lambda conn: list_tenants(
            conn,
            version=version,
            service_type=service_type,
            status=None if status is None else status.upper(),
            blocked=blocked,
            limit=limit,
            after=after,
        ),
        min_sequence,
    )
    following = found[-1].tenant_id if len(found) == limit else None
    if as_json:
        print_json({"tenants": found, "next": following})
        return
    show_tenant_rows(found)
    if following:
        console.print(f"next page: --after {following}", highlight=False)


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
    min_sequence: MinSequenceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: every event, filtered, newest first, paged by sequence."""
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
    following = found[-1].sequence if len(found) == limit else None
    if as_json:
        print_json({"events": found, "next": following})
        return
    show_audit_rows(found)
    if following:
        console.print(f"next page: --after {following}", highlight=False)
