"""`GET /v1/plans/{planId}/report`: a plan's report from the read tables, as JSON, or, for
`Accept: text/html`, the self-contained page `switchyard plan report --html` writes.

A token limited to some tenants gets the report of their tenants only, and 404 for
a plan without a task of theirs.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, JSONResponse, Response

from switchyard.adapters.api.deps import Reader, Services
from switchyard.adapters.api.params import MinSequence
from switchyard.adapters.api.reading import read
from switchyard.adapters.api.routes.reads import PlanId
from switchyard.adapters.report.data import report_data
from switchyard.adapters.report.html import render_html
from switchyard.domain.errors import PlanNotFound
from switchyard.projections.report import plan_report

router = APIRouter(tags=["plans"])

HTML = "text/html"

REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: per tenant its result, timings, stage runs, versions and"
        " evidence, and asked versus observed per target version.",
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            HTML: {"schema": {"type": "string"}},
        },
    }
}


@router.get("/v1/plans/{planId}/report", response_class=JSONResponse, responses=REPORT)
def report(
    parts: Services,
    principal: Reader,
    plan_id: PlanId,
    min_sequence: MinSequence = None,
    accept: Annotated[
        str | None, Header(description="`text/html` for the page, else JSON.")
    ] = None,
) -> Response:
    """Report on a plan: per tenant its result, timings, versions and evidence."""
    pid = str(plan_id)
    found = read(parts, lambda conn: plan_report(conn, pid, principal.tenants), min_sequence)
    if found is None:
        raise PlanNotFound(plan_id=pid)
    if accept is not None and HTML in accept:
        return HTMLResponse(render_html(found, datetime.now(UTC)))
    return JSONResponse(report_data(found))
