"""`switchyard demo`: one plan run end to end on embedded servers and a simulated fleet.

Everything starts in this process or under it: the embedded PostgreSQL (or
DATABASE_URL), Redis (REDIS_URL, else a private redis-server in the data
folder's `demo/redis`), a simulated gateway fleet and a scheduler thread. The
demo keeps its events and queue in a PostgreSQL schema of its own, dropped at
the end, so a `switchyard dev` on the same database never claims its tasks,
and its Redis keys and broadcast channel are its own too.

With `--api URL` the plan is run by the switchyard behind that API instead
(typically `switchyard dev`): the demo starts only the simulated fleet, on the
Redis that switchyard's scheduler uses (REDIS_URL, else the one `dev` published in
the data folder), creates the plan with `POST /v1/plans` and follows it with
`GET /v1/plans/{planId}`.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from psycopg import sql

from switchyard.adapters.bootstrap import (
    Roles,
    build_stage_factory,
    container,
    database_url,
    scheduler_config,
)
from switchyard.adapters.cli.output import console
from switchyard.adapters.cli.planfile import read_plan_file
from switchyard.adapters.cli.published import read_published
from switchyard.adapters.cli.roles import stop_on_signals
from switchyard.adapters.demo.client import PlanClient
from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.demo.remote_view import follow_remote, show_remote_summary
from switchyard.adapters.demo.view import Versions, follow, show_summary
from switchyard.adapters.embedded.redis import EmbeddedRedis, start_redis
from switchyard.adapters.postgres.persistence import store_errors
from switchyard.adapters.settings import Settings
from switchyard.domain.errors import Problem, SettingsInvalid
from switchyard.domain.status import PlanStatus
from switchyard.domain.validation import ServiceTypes, validate_plan_request

FAST_HEALTH_INTERVAL = "200ms"
"""The health-check interval of a tenant whose plan entry sets none."""

GRACE_SECONDS = 5.0
"""How long a stop waits for running stages (the demo's stages are short)."""

POLL_SECONDS = 0.1
"""How often the progress bars are refreshed from the event store."""

INTERRUPTED = 130
"""The exit code after Ctrl-C or SIGTERM, as for any program stopped by SIGINT."""

PlanOption = Annotated[Path, typer.Option("--plan", help="The plan request to run, YAML or JSON.")]
ApiOption = Annotated[
    str | None,
    typer.Option("--api", help="Run the plan through this switchyard API (e.g. `dev`'s)."),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SWITCHYARD_TOKEN",
        help="The API token (default: the one `dev` published in the data folder).",
    ),
]


def demo(
    plan: PlanOption = Path("examples/plan.yaml"),
    api: ApiOption = None,
    token: TokenOption = None,
) -> None:
    """Run a plan end to end on embedded servers and a simulated fleet, showing live progress.

    Starts PostgreSQL (embedded, or DATABASE_URL), Redis (REDIS_URL, or a private
    redis-server), simulated gateway instances and a scheduler; creates the plan; shows
    each task's progress until the plan settles; prints a summary; stops everything.
    The demo owns the fleet: each tenant's endpoints (and registry) are replaced by
    simulated instances (as many as it lists endpoints), health checks go to their
    /health (every 200ms unless the plan sets an interval), and route keys and the
    broadcast channel are the demo's own. With --api, the switchyard behind that API
    runs the plan and the demo starts only the fleet. Exit 0 if the plan completed,
    1 if not, 130 after Ctrl-C. The simulated fleet is on the local machine, so calls
    there are allowed.
    """
    settings = Settings().with_loopback()
    request = read_plan_file(plan)
    service_types = build_stage_factory(settings).service_types()
    # Refuse a bad file before starting anything.
    validate_plan_request(request, service_types, settings.outbound_policy())
    if api is not None:
        code = run_through_api(settings, request, service_types, api, token, stop_on_signals())
    else:
        with store_errors():
            code = _run(settings, request, service_types, stop_on_signals())
    if code:
        raise typer.Exit(code)


def _run(
    settings: Settings, request: Mapping[str, Any], types: ServiceTypes, stop: threading.Event
) -> int:
    """Start everything, run the plan, show it, stop everything; the exit code."""
    run_id = uuid.uuid4().hex[:8]
    namespace = f"switchyard:demo:{run_id}"
    schema = f"switchyard_demo_{run_id}"
    with ExitStack() as stack:
        stack.enter_context(_own_schema(database_url(settings), schema))
        redis_url = settings.redis_url or stack.enter_context(_private_redis(settings)).url
        settings = settings.model_copy(update={"redis_url": redis_url})
        fleet = stack.enter_context(Fleet(redis_url, channel=f"{namespace}:route-updates"))
        roles = Roles(scheduler=True, display=True)
        parts = stack.enter_context(container(settings, roles=roles, stop=stop, schema=schema))
        on_fleet = fleet_plan(request, fleet, namespace, types)
        before = {tenant: fleet.versions(tenant) for tenant in _tenant_ids(on_fleet)}
        config = dataclasses.replace(
            scheduler_config(settings), grace_seconds=min(settings.grace_seconds, GRACE_SECONDS)
        )
        scheduler = parts.in_thread(
            "scheduler", parts.scheduler(config).run, config.grace_seconds + 5
        )
        if stop.is_set():
            return INTERRUPTED
        created = parts.app.create_plan(on_fleet, settings.actor)
        view = follow(parts.app, created.plan_id, stop, scheduler.is_alive, POLL_SECONDS)
        interrupted = stop.is_set()
        after: Versions = {tenant: fleet.versions(tenant) for tenant in before}
        show_summary(parts.app, view, before, after)
    if interrupted:
        return INTERRUPTED
    return 0 if view.status == PlanStatus.COMPLETED else 1


def run_through_api(
    settings: Settings,
    request: Mapping[str, Any],
    types: ServiceTypes,
    api: str,
    token: str | None,
    stop: threading.Event,
) -> int:
    """Start the fleet, have the API's switchyard run the plan, show it; the exit code."""
    found = read_published(settings.data_dir)
    redis_url = settings.redis_url or found.redis_url
    token = token or found.token
    if not redis_url or not token:
        raise SettingsInvalid(_missing_for_api(redis_url, token))
    namespace = f"switchyard:demo:{uuid.uuid4().hex[:8]}"
    with (
        Fleet(redis_url, channel=f"{namespace}:route-updates") as fleet,
        PlanClient(api, token) as client,
    ):
        on_fleet = fleet_plan(request, fleet, namespace, types)
        before = {tenant: fleet.versions(tenant) for tenant in _tenant_ids(on_fleet)}
        created = client.create_plan(on_fleet)
        detail = follow_remote(client, created.plan_id, len(created.task_ids), stop, POLL_SECONDS)
        after: Versions = {tenant: fleet.versions(tenant) for tenant in before}
        show_remote_summary(detail, before, after)
    if stop.is_set():
        return INTERRUPTED
    return 0 if detail is not None and detail.plan.status == PlanStatus.COMPLETED else 1


def _missing_for_api(redis_url: str | None, token: str | None) -> list[Problem]:
    """What `demo --api` lacks: the scheduler's Redis, the token (neither given nor published)."""
    problems = []
    if not redis_url:
        message = "demo --api needs the Redis of the API's scheduler (no `dev` published one)"
        problems.append(Problem("REDIS_URL", "missing", message))
    if not token:
        message = "demo --api needs a token: --token (no `dev` published one)"
        problems.append(Problem("SWITCHYARD_TOKEN", "missing", message))
    return problems


def fleet_plan(
    request: Mapping[str, Any], fleet: Fleet, namespace: str, types: ServiceTypes
) -> dict[str, Any]:
    """The (valid) request with every tenant moved onto simulated instances of the fleet."""
    tenants = [_on_fleet(tenant, fleet, namespace, types) for tenant in request["tenants"]]
    return {**request, "tenants": tenants}


def _on_fleet(
    tenant: Mapping[str, Any], fleet: Fleet, namespace: str, types: ServiceTypes
) -> dict[str, Any]:
    settings = types[tenant["serviceType"]]
    overrides = dict(tenant.get("overrides") or {})
    if "channel" in settings:
        overrides["channel"] = f"{namespace}:route-updates"
    if "route_key" in settings:
        overrides["route_key"] = f"{namespace}:route:{{tenant_id}}"
    # The fleet's instances answer GET /health with {"version": ...}.
    health = {"interval": FAST_HEALTH_INTERVAL, **(tenant.get("healthCheck") or {})}
    health.update(path="/health", versionKey="version")
    instances = max(1, len(tenant.get("endpoints") or ()))
    moved = {key: value for key, value in tenant.items() if key != "registry"}
    moved.update(
        endpoints=fleet.add_tenant(tenant["tenantId"], instances=instances), healthCheck=health
    )
    if overrides:
        moved["overrides"] = overrides
    return moved


def _tenant_ids(request: Mapping[str, Any]) -> list[str]:
    return [str(tenant["tenantId"]) for tenant in request["tenants"]]


@contextmanager
def _own_schema(url: str, schema: str) -> Iterator[str]:
    """A new schema for the demo's events and queue tables, dropped (with them) afterwards."""
    name = sql.Identifier(schema)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(name))


@contextmanager
def _private_redis(settings: Settings) -> Iterator[EmbeddedRedis]:
    """A redis-server of the demo's own, in the data folder's `demo/redis`."""
    with start_redis(settings.data_dir / "demo" / "redis") as server:
        console.print(f"no REDIS_URL: started a private Redis at {server.url}", highlight=False)
        yield server
