"""The API's application: FastAPI with its routes, problem details and limits.

`create_app(services)` builds it on parts the caller made (`switchyard api` from
the container; tests from theirs); nothing is started at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from switchyard.adapters.api import problems
from switchyard.adapters.api.deps import ApiServices
from switchyard.adapters.api.idempotency import Idempotency
from switchyard.adapters.api.limits import BodyLimit
from switchyard.adapters.api.measured import Measured
from switchyard.adapters.api.request_log import RequestLog, bind_path_ids
from switchyard.adapters.api.routes import (
    audit,
    events,
    health,
    metrics,
    plans,
    reads,
    report,
    tasks,
    tenants,
)
from switchyard.adapters.api.streams import EventStreams

DESCRIPTION = """\
Run and steer multi-tenant blue-green switch-overs, and ask where they stand.

Every request but `/healthz`, `/readyz` and `/metrics` needs `Authorization: Bearer
<token>` (tokens: `switchyard token create`). Errors are RFC 9457 problem details
with a stable `code`. Commands answer the `sequence` of their last event; give it
to a query as `minSequence` to read your own write.
"""


def create_app(services: ApiServices) -> FastAPI:
    """The API on these parts."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with services.read_pool:  # on the server's event loop, which reads through it
            yield

    app = FastAPI(
        lifespan=lifespan,
        title="switchyard",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        responses=problems.DOCUMENTED,
        dependencies=[Depends(bind_path_ids)],
    )
    app.state.services = services
    app.state.streams = EventStreams(services.settings.api_max_streams)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.problems_as_problem_json(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    problems.install(app)
    routers = (health, metrics, plans, events, tasks, reads, report, tenants, audit)
    for module in routers:
        app.include_router(module.router)
    app.add_middleware(Idempotency)
    app.add_middleware(BodyLimit, max_bytes=services.settings.api_max_body_bytes)
    app.add_middleware(Measured, metrics=services.metrics.http())  # sees every answer
    app.add_middleware(RequestLog)  # outermost: its id and context cover the others
    return app
