"""`switchyard api` (the HTTP API role) and `switchyard token create`.

FastAPI, the app and uvicorn are imported when a server is built, not when the CLI
starts: every other command would pay about a second for them.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from switchyard.adapters.api.tokens import Scope, Tokens, TokenSetting, new_token, token_hash
from switchyard.adapters.bootstrap import API_READ_CONNECTIONS, Container, Roles, container
from switchyard.adapters.cli.output import console
from switchyard.adapters.cli.roles import stop_on_signals
from switchyard.adapters.logs import LIFECYCLE, role_logs
from switchyard.adapters.metrics.registries import ProcessMetrics
from switchyard.adapters.settings import Settings

if TYPE_CHECKING:
    import uvicorn

    from switchyard.adapters.api.deps import ApiServices

log = logging.getLogger(__name__)

tokens = typer.Typer(help="API tokens: make one for a client.")


def api_services(parts: Container) -> ApiServices:
    """The API's parts from the process's container."""
    from switchyard.adapters.api.deps import ApiServices

    return ApiServices(
        app=parts.app,
        store_engine=parts.store_engine(),
        read_engine=parts.read_engine(),
        read_pool=parts.read_pool(API_READ_CONNECTIONS),
        settings=parts.settings,
        tokens=Tokens(parts.settings.api_tokens),
        metrics=api_metrics(parts),
        stop=parts.stop,
    )


def api_metrics(parts: Container) -> ProcessMetrics:
    """The process's metrics with the fleet's gauges the API serves at /metrics: tasks by
    status, queue depth, heartbeat, relay and projector lag (its request metrics come with
    the app)."""
    metrics = parts.metrics()
    store = parts.store_engine()
    metrics.tasks(store)
    metrics.relay(parts.app, store)
    metrics.projector(parts.read_engine(), parts.settings.kafka_topic, parts.store_apart())
    return metrics


def api_server(parts: Container, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server of the API on the container's parts; `run()` it."""
    import uvicorn

    from switchyard.adapters.api.app import create_app

    config = uvicorn.Config(
        create_app(api_services(parts)),
        host=host,
        port=port,
        log_config=None,  # the process's logging, configured once
        access_log=False,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve_until_stopped(
    server: uvicorn.Server, stop: threading.Event, sockets: list[socket.socket] | None = None
) -> None:
    """Run the server until `stop` is set (uvicorn's own signal handlers stay off), on
    `sockets` already listening if given, else on its configured host and port, on the
    event loop uvicorn picks (uvloop where installed)."""

    def watch() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=watch, name="api-stop", daemon=True).start()
    server.run(sockets)


HostOption = Annotated[
    str | None, typer.Option("--host", help="Listen address (SWITCHYARD_API_HOST).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", help="Listen port (SWITCHYARD_API_PORT).")
]


def api(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the HTTP API until SIGTERM or Ctrl-C."""
    settings = Settings()
    with (
        role_logs("api", settings),
        container(settings, roles=Roles(api=True), stop=stop_on_signals()) as parts,
    ):
        if not settings.api_tokens:
            console.print(
                "no SWITCHYARD_API_TOKENS: every request will be refused "
                "(make a token with `switchyard token create`)",
                highlight=False,
            )
        host, port = host or settings.api_host, settings.api_port if port is None else port
        log.info("api: serving on http://%s:%d", host, port, extra=LIFECYCLE)
        serve_until_stopped(api_server(parts, host, port), parts.stop)


@tokens.command("create")
def create_token(
    actor: Annotated[
        str, typer.Option("--actor", help="Who the token acts as (recorded as actor).")
    ],
    scope: Annotated[
        list[Scope], typer.Option("--scope", help="plans:write, plans:read, audit:read (repeat).")
    ],
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="Limit to these tenants (repeat).")
    ] = None,
) -> None:
    """Print a new token and the SWITCHYARD_API_TOKENS entry that configures it (its hash)."""
    token = new_token()
    setting = TokenSetting(
        hash=token_hash(token),
        actor=actor,
        scopes=frozenset(scope),
        tenants=frozenset(tenant) if tenant else None,
    )
    entry = json.loads(setting.model_dump_json())
    entry["scopes"] = sorted(entry["scopes"])
    if entry["tenants"] is None:
        del entry["tenants"]
    else:
        entry["tenants"] = sorted(entry["tenants"])
    typer.echo(f"token (shown once, keep it secret): {token}")
    typer.echo("add this entry to the SWITCHYARD_API_TOKENS JSON list:")
    typer.echo(json.dumps(entry))
