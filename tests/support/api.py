"""The API in tests: its ASGI app on the test's event store, with tokens of each kind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from switchyard.adapters.api.app import create_app
from switchyard.adapters.api.deps import ApiServices
from switchyard.adapters.api.tokens import Scope, Tokens, TokenSetting, new_token, token_hash
from switchyard.adapters.bootstrap import API_READ_CONNECTIONS, Container, container
from switchyard.adapters.cli.api import api_metrics
from switchyard.adapters.settings import Settings
from switchyard.domain.outbound import LOOPBACK

ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True)
class Issued:
    """A token and the settings entry that configures it."""

    token: str
    setting: TokenSetting

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that present it."""
        return {"Authorization": f"Bearer {self.token}"}


def issue(
    actor: str, scopes: frozenset[Scope] = ALL_SCOPES, tenants: set[str] | None = None
) -> Issued:
    """A new token for `actor` with these scopes (and tenant limit)."""
    token = new_token()
    limit = None if tenants is None else frozenset(tenants)
    return Issued(
        token, TokenSetting(hash=token_hash(token), actor=actor, scopes=scopes, tenants=limit)
    )


class ApiClient:
    """httpx against the ASGI app, called synchronously (the app runs on a portal's loop)."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request and wait for its whole response."""
        return self._portal.call(lambda: self._client.request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST."""
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


@contextmanager
def api_app(pg_env: dict[str, str], *issued: Issued, **settings: object) -> Iterator[ApiApp]:
    """The API's ASGI app on the test's event store (read tables in its schema); calls to
    the local machine are allowed unless `outbound_allow` is given."""
    configured = Settings(
        database_url=None,
        api_tokens=[i.setting for i in issued],
        **{"outbound_allow": LOOPBACK, **settings},  # type: ignore[arg-type]
    )
    with container(configured, env=pg_env) as parts:
        services = ApiServices(
            app=parts.app,
            store_engine=parts.store_engine(),
            read_engine=parts.read_engine(),
            read_pool=parts.read_pool(API_READ_CONNECTIONS),
            settings=configured,
            tokens=Tokens(configured.api_tokens),
            metrics=api_metrics(parts),
            stop=parts.stop,
        )
        yield ApiApp(create_app(services), parts)


@dataclass(frozen=True)
class ApiApp:
    """The API's ASGI app and the container it runs on."""

    asgi: FastAPI
    parts: Container


@contextmanager
def api_client(
    pg_env: dict[str, str], *issued: Issued, **settings: object
) -> Iterator[tuple[ApiClient, Container]]:
    """A test client of the API on the test's event store (read tables in its schema)."""
    with api_app(pg_env, *issued, **settings) as app:
        transport = httpx.ASGITransport(app=app.asgi, raise_app_exceptions=False)
        lifespan = app.asgi.router.lifespan_context(app.asgi)  # as a server runs it
        with start_blocking_portal() as portal, portal.wrap_async_context_manager(lifespan):
            client = httpx.AsyncClient(transport=transport, base_url="http://switchyard")
            try:
                yield ApiClient(portal, client), app.parts
            finally:
                portal.call(client.aclose)
