"""`GET /v1/tenants`, `/v1/tenants/{tenantId}` and its `task` and `checkpoint`: which
tenants run which version, one tenant, its current task, and whether a retry of that
task can start from a checkpoint; from the read tables.

A token limited to some tenants lists only theirs; another tenant answers 404 as
if it had no task.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from switchyard.adapters.api.deps import Reader, Services
from switchyard.adapters.api.params import PRINTABLE, Limit, MinSequence, text_query
from switchyard.adapters.api.read_schemas import CheckpointOut, TaskOut, TenantOut, TenantPageOut
from switchyard.adapters.api.reading import read
from switchyard.adapters.api.representation import checkpoint, tenant_page
from switchyard.domain.errors import TenantNotFound
from switchyard.domain.status import TaskStatus
from switchyard.projections.fleet import TaskRow, current_task, get_tenant, list_tenants

router = APIRouter(tags=["tenants"])

TenantId = Annotated[
    str,
    Path(alias="tenantId", max_length=255, pattern=PRINTABLE, description="The tenant's id."),
]


@router.get("/v1/tenants", response_model=TenantPageOut)
def tenants(
    parts: Services,
    principal: Reader,
    limit: Limit,
    min_sequence: MinSequence = None,
    version: Annotated[
        str | None, text_query("Only tenants last switched to this version.", "2.5.0")
    ] = None,
    service_type: Annotated[
        str | None,
        text_query("Only tenants of this service type.", "blue-green-gateway", "serviceType"),
    ] = None,
    status: Annotated[
        TaskStatus | None, Query(description="Only tenants whose latest task is in this status.")
    ] = None,
    after: Annotated[
        str | None, text_query("The page after this tenant id (`next`).", "acme")
    ] = None,
) -> TenantPageOut:
    """List tenants by id: the version each runs, its latest task, what blocks it."""
    rows = read(
        parts,
        lambda conn: list_tenants(
            conn,
            version=version,
            service_type=service_type,
            status=None if status is None else status.value,
            limit=limit,
            after=after,
            tenants=principal.tenants,
        ),
        min_sequence,
    )
    return tenant_page(rows, limit)


@router.get("/v1/tenants/{tenantId}", response_model=TenantOut)
def tenant(
    parts: Services, principal: Reader, tenant_id: TenantId, min_sequence: MinSequence = None
) -> TenantOut:
    """Show a tenant: the version it was last switched to, its latest task, what blocks it."""
    row = read(parts, lambda conn: get_tenant(conn, tenant_id, principal.tenants), min_sequence)
    if row is None:
        raise TenantNotFound(tenant_id=tenant_id)
    return TenantOut.model_validate(row)


def _current(
    parts: Services, principal: Reader, tenant_id: str, min_sequence: int | None
) -> TaskRow:
    """The tenant's current task (404 if it has none the token may see)."""
    row = read(parts, lambda conn: current_task(conn, tenant_id, principal.tenants), min_sequence)
    if row is None:
        raise TenantNotFound(tenant_id=tenant_id)
    return row


@router.get("/v1/tenants/{tenantId}/task", response_model=TaskOut)
def tenant_task(
    parts: Services, principal: Reader, tenant_id: TenantId, min_sequence: MinSequence = None
) -> TaskOut:
    """Show the tenant's current task, the one tenant-addressed commands act on."""
    return TaskOut.model_validate(_current(parts, principal, tenant_id, min_sequence))


@router.get("/v1/tenants/{tenantId}/checkpoint", response_model=CheckpointOut)
def tenant_checkpoint(
    parts: Services, principal: Reader, tenant_id: TenantId, min_sequence: MinSequence = None
) -> CheckpointOut:
    """Say whether a retry of the tenant's current task can start from a checkpoint."""
    return checkpoint(_current(parts, principal, tenant_id, min_sequence))
