"""`/metrics`: the API process's metrics in Prometheus's text format (no token needed).

Left out of the OpenAPI document: it is for Prometheus, not for API clients.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from switchyard.adapters.api.deps import Services

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(parts: Services) -> Response:
    """Give every metric of this process, in Prometheus's text exposition format."""
    return Response(parts.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
