"""What the API's routes share: the service's parts, and who is asking.

Closed by default: a route that names a scope refuses a request without a bearer
token (401), with an unknown token (401) or with a token lacking that scope (403).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from structlog.contextvars import bind_contextvars

from switchyard.adapters.api.problems import ApiProblem
from switchyard.adapters.api.tokens import Principal, Scope, Tokens
from switchyard.adapters.metrics.registries import ProcessMetrics
from switchyard.adapters.postgres.read_pool import ReadPool
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard


@dataclass(frozen=True)
class ApiServices:
    """The parts the API runs on: the application, the read tables (an engine, and a pool
    for queries answered on the event loop), settings, tokens, the process's metrics, and
    its stop (set, it ends the event streams so the server can stop)."""

    app: Switchyard
    store_engine: Engine
    read_engine: Engine
    read_pool: ReadPool
    settings: Settings
    tokens: Tokens
    metrics: ProcessMetrics
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def store_apart(self) -> Engine | None:
        """The event store's engine if the read tables are in another database."""
        return None if self.store_engine is self.read_engine else self.store_engine


async def services(request: Request) -> ApiServices:
    """The API's parts, set on the app at start (a coroutine: FastAPI runs a plain function
    dependency on its threadpool, a hop per request)."""
    found: ApiServices = request.app.state.services
    return found


Services = Annotated[ApiServices, Depends(services)]
"""A route parameter receiving the API's parts."""

_bearer = HTTPBearer(auto_error=False, description="A token made by `switchyard token create`.")


def authorised(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the request's principal, if its token has `scope`."""

    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise ApiProblem(401, "send `Authorization: Bearer <token>`")
        parts: ApiServices = request.app.state.services  # not a dependency: each costs
        found = parts.tokens.authenticate(credentials.credentials)
        if found is None:
            raise ApiProblem(401, "the token is not known")
        if scope not in found.scopes:
            raise ApiProblem(403, f"the token lacks the scope {scope.value}")
        request.state.actor = found.actor
        bind_contextvars(actor=found.actor)  # async: bound in the request's own task
        return found

    return principal


Writer = Annotated[Principal, Depends(authorised(Scope.PLANS_WRITE))]
"""The principal of a request that creates or steers plans."""

Reader = Annotated[Principal, Depends(authorised(Scope.PLANS_READ))]
"""The principal of a request that reads plans, tasks, tenants and reports."""

Auditor = Annotated[Principal, Depends(authorised(Scope.AUDIT_READ))]
"""The principal of a request that reads the audit trail."""


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Send the same request again with the same key to get the first"
            " response back instead of a second effect (kept per token for"
            " API_IDEMPOTENCY_HOURS).",
        ),
    ] = None,
) -> str | None:
    """The request's `Idempotency-Key` header (the idempotency middleware acts on it)."""
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
"""A route parameter receiving the request's `Idempotency-Key`."""
