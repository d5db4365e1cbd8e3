"""API benchmark: `POST /v1/plans` and `GET /v1/tasks/{id}` under 32 concurrent clients.

A real server process (uvicorn, one worker) runs the API exactly as `switchyard api`
builds it, plus one bare (async) FastAPI route returning a constant (`GET /bench/constant`),
the peer every figure is set against. From another process, `--clients` concurrent
aiohttp clients (asyncio, keep-alive; the `bench` extra) each send requests back to back:

1. `GET /bench/constant` for `--seconds`;
2. `POST /v1/plans`, each a plan of `--plan-tenants` (10) new tenants, for `--seconds`;
3. then the read tables are rebuilt from the store (every task created in 2), and
   `GET /v1/tasks/{id}` of random tasks runs for `--seconds`.

Each prints requests/s, p50 and p99 (ms), and its ratio to the constant route's
requests/s. Targets: the GET at least 0.3 x the constant route; p99 under 50 ms.
Client and server share the machine's cores, which understates both alike.

    python bench/api_bench.py
    python bench/api_bench.py --seconds 5

Uses DATABASE_URL if set, else a throwaway embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from scheduler_bench import fresh_database, server

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Figures:
    """One load phase's throughput and latencies."""

    name: str
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    def line(self, peer: Figures | None) -> str:
        """The phase's printed line."""
        quantiles = statistics.quantiles(self.latencies, n=100)
        ratio = f"   {self.rate / peer.rate:4.2f} x constant" if peer else ""
        return (
            f"{self.name:<28} {self.rate:8.0f} req/s   p50 {quantiles[49] * 1000:6.1f} ms"
            f"   p99 {quantiles[98] * 1000:6.1f} ms{ratio}"
        )


def serve(port: int) -> None:
    """The server process: the API as `switchyard api` builds it, plus the constant route."""
    import uvicorn

    from switchyard.adapters.api.app import create_app
    from switchyard.adapters.bootstrap import Roles, container
    from switchyard.adapters.cli.api import api_services
    from switchyard.adapters.logs import role_logs
    from switchyard.adapters.settings import Settings

    settings = Settings()
    with role_logs("api", settings), container(settings, roles=Roles(api=True)) as parts:
        app = create_app(api_services(parts))

        @app.get("/bench/constant", include_in_schema=False)
        async def constant() -> dict[str, bool]:
            return {"ok": True}

        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    url: str, port: int, token_entry: dict[str, object], data_dir: Path
) -> subprocess.Popen[bytes]:
    """The server process on the database (its log in `data_dir`); returns once it answers."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SWITCHYARD_DATA_DIR": str(data_dir),
        "SWITCHYARD_API_TOKENS": json.dumps([token_entry]),
        "REDIS_URL": "redis://127.0.0.1:1/0",  # the API never touches Redis
    }
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], cwd=ROOT / "bench", env=env
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise SystemExit("the API server exited before answering")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the API server did not answer in 120 s")


Answer = tuple[int, Any]
"""A response's status and its JSON body (None for no JSON)."""

Send = Callable[[aiohttp.ClientSession], Awaitable[Answer]]
"""One request of a phase, sent on the clients' shared session."""


async def answer(response: aiohttp.ClientResponse) -> Answer:
    """The status and body of a response, read whole."""
    body = await response.read()
    return response.status, json.loads(body) if body else None


async def load(
    base: str, headers: dict[str, str], clients: int, seconds: float, send: Send, expected: int
) -> tuple[int, float, list[float]]:
    """`clients` concurrent clients sending requests back to back for `seconds`, on one
    keep-alive connection each (aiohttp: a lighter client than httpx, which on two cores
    could not load even the constant route)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:
        await asyncio.gather(*(send(session) for _ in range(clients)))  # warm up
        start = time.perf_counter()
        end = start + seconds

        async def one_client() -> None:
            while time.perf_counter() < end:
                sent = time.perf_counter()
                status, body = await send(session)
                latencies.append(time.perf_counter() - sent)
                if status != expected:
                    raise SystemExit(f"{status}: {str(body)[:300]}")

        await asyncio.gather(*(one_client() for _ in range(clients)))
        return len(latencies), time.perf_counter() - start, latencies


def plan_body(tenants: int) -> dict[str, object]:
    """A plan of new tenants with no-op stages."""
    run = uuid.uuid4().hex[:10]
    return {
        "name": f"bench-{run}",
        "maxConcurrency": 10,
        "tenants": [
            {
                "tenantId": f"t-{run}-{i}",
                "serviceType": "blue-green-gateway",
                "targetVersion": "2.0.0",
                "endpoints": ["10.0.0.1:8081"],
            }
            for i in range(tenants)
        ],
    }


def run(args: argparse.Namespace) -> None:
    """Start the server, run the three phases, print their figures."""
    from switchyard.adapters.api.tokens import new_token, token_hash
    from switchyard.adapters.bootstrap import container
    from switchyard.adapters.settings import Settings

    token = new_token()
    entry = {
        "hash": token_hash(token),
        "actor": "bench",
        "scopes": ["plans:write", "plans:read", "audit:read"],
    }
    headers = {"Authorization": f"Bearer {token}"}
    with server() as root, tempfile.TemporaryDirectory(prefix="switchyard-api-bench-") as data:
        url = fresh_database(root)
        port = free_port()
        process = start_server(url, port, entry, Path(data))
        base = f"http://127.0.0.1:{port}"
        task_ids: list[str] = []
        try:

            async def constant(session: aiohttp.ClientSession) -> Answer:
                async with session.get("/bench/constant") as response:
                    return await answer(response)

            async def create(session: aiohttp.ClientSession) -> Answer:
                body = plan_body(args.plan_tenants)
                async with session.post("/v1/plans", json=body) as response:
                    status, created = await answer(response)
                if status == 201:
                    task_ids.extend(created["taskIds"])
                return status, created

            async def read(session: aiohttp.ClientSession) -> Answer:
                async with session.get(f"/v1/tasks/{random.choice(task_ids)}") as response:
                    return await answer(response)

            print(f"{args.clients} concurrent clients, {args.seconds:g} s a phase")
            peer = Figures(
                "GET /bench/constant",
                *asyncio.run(load(base, headers, args.clients, args.seconds, constant, 200)),
            )
            print(peer.line(None))
            posts = Figures(
                f"POST /v1/plans ({args.plan_tenants} tenants)",
                *asyncio.run(load(base, headers, args.clients, args.seconds, create, 201)),
            )
            print(posts.line(peer))
            with container(Settings(database_url=url)) as parts:
                started = time.perf_counter()
                parts.rebuild_read_tables()
                print(
                    f"read tables rebuilt ({len(task_ids)} tasks) in "
                    f"{time.perf_counter() - started:.1f} s"
                )
            gets = Figures(
                "GET /v1/tasks/{id}",
                *asyncio.run(load(base, headers, args.clients, args.seconds, read, 200)),
            )
            print(gets.line(peer))
            ratio = gets.rate / peer.rate
            p99 = statistics.quantiles(gets.latencies, n=100)[98] * 1000
            print(f"target: GET >= 0.3 x constant: {ratio:.2f} x; p99 < 50 ms: {p99:.1f} ms")
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    """Parse the arguments and run the benchmark (or, with --serve, the server)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10, help="of each phase")
    parser.add_argument("--plan-tenants", type=int, default=10)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
    else:
        run(args)


if __name__ == "__main__":
    main()
