"""`switchyard dev`: every role in one process on embedded servers, with the HTTP API.

The API's port is taken first, before any server starts, so a port in use fails at
once (`api.address_in_use`) with nothing left running. A fresh development token
with every scope is made for the run (kept in memory, never in the settings), and
the API's address, that token and the Redis URL are published in the data folder
(see `published`) for other shells and `switchyard demo --api`.
"""

from __future__ import annotations

import errno
import socket
from contextlib import ExitStack
from typing import Annotated

import typer

from switchyard.adapters.api.tokens import Scope, TokenSetting, new_token, token_hash
from switchyard.adapters.bootstrap import Container, Roles, container, database_url
from switchyard.adapters.cli.api import api_server, serve_until_stopped
from switchyard.adapters.cli.output import console
from switchyard.adapters.cli.published import (
    API_TOKEN_FILE,
    API_URL_FILE,
    REDIS_URL_FILE,
    published,
)
from switchyard.adapters.cli.roles import stop_on_signals
from switchyard.adapters.embedded.redis import EmbeddedRedis, start_redis
from switchyard.adapters.logs import role_logs
from switchyard.adapters.settings import Settings
from switchyard.domain.errors import ApiAddressInUse

ROLE_JOIN_SECONDS = 30.0
"""How long `dev` waits for its relay, projector and API threads to finish once stopping."""

ApiPortOption = Annotated[
    int | None,
    typer.Option(
        "--api-port", min=0, max=65535, help="The API's port (SWITCHYARD_API_PORT; 0: any free)."
    ),
]


def dev(api_port: ApiPortOption = None) -> None:
    """Run switchyard on its embedded defaults until Ctrl-C: database, scheduler, relay,
    projector and the HTTP API (with a development token printed at start). Calls to the
    local machine are allowed (as OUTBOUND_ALLOW=127.0.0.1,::1,localhost would): a
    development fleet runs there."""
    settings = Settings().with_loopback()
    listening = listen(settings.api_host, settings.api_port if api_port is None else api_port)
    token = new_token()
    everything = TokenSetting(hash=token_hash(token), actor=settings.actor, scopes=frozenset(Scope))
    with ExitStack() as stack:
        stack.enter_context(role_logs("dev", settings))
        stack.callback(listening.close)
        redis_url = settings.redis_url or stack.enter_context(_private_redis(settings)).url
        settings = settings.model_copy(
            update={"api_tokens": [*settings.api_tokens, everything], "redis_url": redis_url}
        )
        roles = Roles(scheduler=True, relay=True, api=True)
        parts = stack.enter_context(container(settings, roles=roles, stop=stop_on_signals()))
        servers = parts.kafka_servers()
        parts.in_thread("relay", parts.relay().run, ROLE_JOIN_SECONDS)
        projector = parts.projector()
        parts.in_thread("projector", projector.run, ROLE_JOIN_SECONDS)
        scheduler = parts.scheduler()
        metrics = parts.serve_metrics("scheduler_metrics_port")
        url = _serve_api(parts, listening)
        files = {API_URL_FILE: url, API_TOKEN_FILE: token, REDIS_URL_FILE: redis_url}
        stack.enter_context(published(settings.data_dir, files))
        _say_started(settings, servers, url, token, metrics)
        drained = scheduler.run()
    console.print(
        "stopped" if drained else "stopped; tasks left mid-stage will be taken over",
        highlight=False,
    )
    if not drained:
        raise typer.Exit(3)  # work left running is taken over once its leases expire


def _serve_api(parts: Container, listening: socket.socket) -> str:
    """Serve the API on the listening socket, in a thread of the container; its URL."""
    host, port = listening.getsockname()[:2]
    server = api_server(parts, host, port)

    def serve() -> None:
        try:
            serve_until_stopped(server, parts.stop, [listening])
        finally:
            parts.stop.set()  # an API that ended on its own stops dev: no half-running dev

    parts.in_thread("api", serve, ROLE_JOIN_SECONDS)
    return f"http://{_url_host(host)}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on the API's address (port 0: a free one), or `api.address_in_use`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(socket.SOMAXCONN)
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            raise ApiAddressInUse(
                f"{host}:{port} is taken by another process "
                "(choose another with --api-port, or 0 for any free port)",
                host=host,
                port=port,
            ) from None
        raise
    return listening


def _private_redis(settings: Settings) -> EmbeddedRedis:
    """A redis-server of `dev`'s own in the data folder, shared with `demo --api` while it runs."""
    return start_redis(settings.data_dir / "redis")


def _url_host(host: str) -> str:
    """The host as a client writes it: loopback for the any-address, IPv6 in brackets."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _say_started(settings: Settings, servers: str, url: str, token: str, metrics: str) -> None:
    lines = [
        f"event store: [bold]{database_url(settings)}[/]",
        f"kafka: [bold]{servers}[/] (topic {settings.kafka_topic})",
        f"redis: [bold]{settings.redis_url}[/]",
        f"API: [bold]{url}[/]",
        f"token: [bold]{token}[/] (every scope; this run only)",
        f"metrics: [bold]{metrics}[/] (and {url}/metrics)",
        f'try: curl -H "Authorization: Bearer $(cat {settings.data_dir / API_TOKEN_FILE})" '
        f"{url}/v1/plans",
        "scheduler, relay, projector and API running. In another shell: "
        f"switchyard demo --api {url}; "
        "OUTBOUND_ALLOW=127.0.0.1 switchyard plan create examples/plan.yaml; "
        "switchyard tail. Ctrl-C stops.",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
