"""The real `switchyard` CLI with `--api`, against the API served over HTTP on a database of
its own: plans created and steered through it are recorded as the token's actor; the
API's problems print with their codes; no token, no server and an answer that is no
problem each fail with their own code. The CLI's own database is a closed port, so
anything that reached for it would fail.

The queries (plan list and show, task show, tenants, audit, plan report) need the API's
GET routes: through the API they print exactly what the CLI prints from the same read
tables (rebuilt from the store here, as no projector runs)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from switchyard.adapters.api.tokens import Scope
from switchyard.adapters.postgres.persistence import event_store_env
from switchyard.domain.status import TaskStatus
from tests.integration.test_cli import BAD_PLAN, BAD_PLAN_PROBLEMS, UUID_PATTERN, Cli, Run
from tests.support.api import issue
from tests.support.api_server import ApiServer, api_server, free_port
from tests.support.cli import CLOSED_PORT_URL, EXAMPLE, fresh_env

WRITER = issue("deploy-bot")
READER = issue("dashboard", frozenset({Scope.PLANS_READ, Scope.AUDIT_READ}))


@pytest.fixture(scope="module")
def own_database(database_url: str) -> str:
    """A database of its own on the session's server (its public schema, as the CLI uses)."""
    name = f"remote_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return make_conninfo(database_url, dbname=name)


@pytest.fixture(scope="module")
def served(own_database: str) -> Iterator[ApiServer]:
    """The API on that database, over HTTP, knowing a writer's and a reader's token."""
    env = event_store_env(own_database)
    with api_server(env, WRITER, READER, read_wait_seconds=0.5) as server:
        yield server


@pytest.fixture(scope="module")
def remote(served: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The CLI with --api's variables set to the served API and the writer's token."""
    folder = tmp_path_factory.mktemp("cli-remote")
    env = fresh_env(
        folder / "data",
        SWITCHYARD_API=served.url,
        SWITCHYARD_TOKEN=WRITER.token,
        DATABASE_URL=CLOSED_PORT_URL,
        SWITCHYARD_DB_CONNECT_TIMEOUT="1",
        NO_COLOR="1",
    )
    return Cli(env, folder)


@pytest.fixture(scope="module")
def created(remote: Cli) -> dict[str, str]:
    """The example plan, created through the API: tenant id -> task id, 'plan' -> plan id."""
    run = remote("plan", "create", str(EXAMPLE))
    assert run.code == 0, run.text
    plan = re.search(rf"plan ({UUID_PATTERN}) created; sequence \d+", run.out)
    tasks = dict((t, i) for i, t in re.findall(rf"task ({UUID_PATTERN})\s+tenant (\S+)", run.out))
    assert plan is not None, run.out
    return {"plan": plan.group(1), **tasks}


def failed_with(run: Run, code: str) -> None:
    """The run failed cleanly (exit 1, no traceback), printing this error code."""
    assert run.code == 1, run.text
    assert f"error [{code}]" in run.err, run.err
    assert "Traceback" not in run.text


def test_a_plan_created_through_the_api_is_the_tokens(
    served: ApiServer, created: dict[str, str]
) -> None:
    assert set(created) == {"plan", "acme", "globex", "initech"}
    plan = served.parts.app.get_plan(uuid.UUID(created["plan"]))
    assert plan.created_by == "deploy-bot"
    assert plan.tenant_ids == ("acme", "globex", "initech")


def test_plan_create_json_is_the_apis_body(remote: Cli) -> None:
    run = remote("plan", "create", str(EXAMPLE), "--idempotency-key", "k-1", "--json")
    again = remote("plan", "create", str(EXAMPLE), "--idempotency-key", "k-1", "--json")
    assert run.code == 0 and again.code == 0, run.text + again.text
    first, second = json.loads(run.out), json.loads(again.out)
    assert set(first) == {"planId", "taskIds", "sequence", "created"}
    assert first == second  # the first answer, replayed


def test_steering_through_the_api_is_recorded_as_the_tokens_actor(
    remote: Cli, served: ApiServer, created: dict[str, str]
) -> None:
    paused = remote("task", "pause", "--tenant", "initech", "--reason", "window")
    assert paused.code == 0, paused.text
    assert f"pause: task {created['initech']}, initech's current task; sequence" in paused.out
    history = served.parts.app.task_history(uuid.UUID(created["initech"]))
    asked = [e.fields for e in history if e.type == "PauseRequested"]
    assert asked == [{"actor": "deploy-bot", "reason": "window"}]
    again = remote("task", "pause", created["initech"])
    assert again.code == 0 and "already held" in again.out, again.text
    assert remote("task", "resume", created["initech"]).code == 0
    view = served.parts.app.describe_task(uuid.UUID(created["initech"]))
    assert not view.pause_requested


def test_a_plan_is_steered_through_the_api(
    remote: Cli, served: ApiServer, created: dict[str, str]
) -> None:
    paused = remote("plan", "pause", created["plan"], "--reason", "freeze")
    assert paused.code == 0, paused.text
    assert re.search(r"pause: 3 task\(s\); sequence \d+", paused.out), paused.out
    tasks = served.parts.app.describe_plan(uuid.UUID(created["plan"])).tasks
    assert all(t.pause_requested or t.status is TaskStatus.PAUSED for t in tasks)
    resumed = remote("plan", "resume", created["plan"])
    assert resumed.code == 0, resumed.text
    tasks = served.parts.app.describe_plan(uuid.UUID(created["plan"])).tasks
    assert not any(t.pause_requested or t.status is TaskStatus.PAUSED for t in tasks)


def test_the_apis_problems_print_with_their_codes(remote: Cli, created: dict[str, str]) -> None:
    refused = remote("task", "retry", "--tenant", "globex", "--from-scratch")
    failed_with(refused, "task.invalid_transition")
    failed_with(remote("plan", "cancel", str(uuid.uuid4())), "plan.not_found")
    failed_with(remote("task", "pause", "--tenant", "nobody"), "tenant.not_found")
    failed_with(
        remote("task", "pause", "--tenant", "acme", SWITCHYARD_TOKEN="nope"), "auth.unauthenticated"
    )
    failed_with(
        remote("task", "pause", "--tenant", "acme", SWITCHYARD_TOKEN=READER.token), "auth.forbidden"
    )


def test_an_invalid_plan_lists_every_problem_from_the_api(remote: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad-plan.yaml"
    bad.write_text(BAD_PLAN, encoding="utf-8")
    run = remote("plan", "create", str(bad))
    failed_with(run, "plan.invalid")
    rows = {tuple(re.split(r"\s*[│|]\s*", line.strip())[:2]) for line in run.err.splitlines()}
    assert [p for p in BAD_PLAN_PROBLEMS if p not in rows] == [], run.err


def test_no_token_is_token_missing(remote: Cli) -> None:
    failed_with(
        remote("plan", "pause", str(uuid.uuid4()), SWITCHYARD_TOKEN=""), "api.token_missing"
    )


def test_an_api_nothing_listens_on_is_unavailable(remote: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = remote("plan", "list", SWITCHYARD_API=url)
    failed_with(run, "api.unavailable")
    assert url in run.err


def test_the_api_option_overrides_the_variable(remote: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = remote("--api", url, "task", "pause", "--tenant", "acme")
    failed_with(run, "api.unavailable")
    assert url in run.err


@pytest.fixture()
def not_an_api(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP file server on loopback: it answers, but no problem details."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="not-an-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def test_an_answer_that_is_no_problem_is_an_api_error(remote: Cli, not_an_api: str) -> None:
    failed_with(remote("plan", "pause", str(uuid.uuid4()), SWITCHYARD_API=not_an_api), "api.error")


def test_the_actor_is_the_tokens_with_the_api(remote: Cli, created: dict[str, str]) -> None:
    run = remote("task", "pause", "--tenant", "acme", "--actor", "someone-else")
    assert run.code == 2 and "Traceback" not in run.text, run.text


# -- queries: the API's GET routes --------------------------------------------


@pytest.fixture(scope="module")
def local(own_database: str, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The CLI on the same database, without --api."""
    folder = tmp_path_factory.mktemp("cli-local")
    return Cli(fresh_env(folder / "data", DATABASE_URL=own_database, NO_COLOR="1"), folder)


@pytest.fixture(scope="module")
def projected(served: ApiServer, created: dict[str, str]) -> dict[str, str]:
    """The example plan, with the read tables rebuilt from the store to include it."""
    served.parts.rebuild_read_tables()
    return created


def queries(plan: str) -> list[tuple[str, ...]]:
    """A command line of each query, on the plan."""
    return [
        ("plan", "list"),
        ("plan", "list", "--limit", "1"),
        ("plan", "show", plan),
        ("plan", "show", plan, "--limit", "2"),
        ("plan", "show", plan, "--status", "queued"),
        ("tenants",),
        ("tenants", "--service-type", "portal"),
        ("audit", "--plan", plan, "--oldest-first"),
        ("audit", "--tenant", "acme", "--limit", "2"),
        ("plan", "report", plan),
    ]


def test_queries_through_the_api_print_what_they_print_locally(
    remote: Cli, local: Cli, projected: dict[str, str]
) -> None:
    for query in queries(projected["plan"]):
        here, there = local(*query), remote(*query)
        assert here.code == 0 and there.code == 0, (query, here.text, there.text)
        assert there.out == here.out, query
        here, there = local(*query, "--json"), remote(*query, "--json")
        assert here.code == 0 and there.code == 0, (query, here.text, there.text)
        assert json.loads(there.out) == json.loads(here.out), query


def test_list_json_is_camel_case(remote: Cli, projected: dict[str, str]) -> None:
    plans = json.loads(remote("plan", "list", "--json").out)
    assert set(plans) == {"plans", "next"}
    assert {"planId", "taskCounts", "createdBy"} <= set(plans["plans"][0])
    shown = json.loads(remote("plan", "show", projected["plan"], "--json").out)
    assert [t["tenantId"] for t in shown["tasks"]] == ["acme", "globex", "initech"]


def test_task_show_through_the_api(remote: Cli, projected: dict[str, str]) -> None:
    by_tenant = remote("task", "show", "--tenant", "globex", "--json")
    by_id = remote("task", "show", projected["globex"], "--json")
    assert by_tenant.code == 0 and by_id.code == 0, by_tenant.text + by_id.text
    task = json.loads(by_id.out)
    assert json.loads(by_tenant.out) == task
    assert (task["taskId"], task["tenantId"], task["planId"]) == (
        projected["globex"],
        "globex",
        projected["plan"],
    )
    table = remote("task", "show", projected["globex"])
    assert table.code == 0 and projected["globex"] in table.out, table.text
    failed_with(remote("task", "show", str(uuid.uuid4())), "task.not_found")


def test_the_report_page_through_the_api(
    remote: Cli, projected: dict[str, str], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    run = remote("plan", "report", projected["plan"], "--html", str(page))
    assert run.code == 0, run.text
    assert all(tenant in page.read_text() for tenant in ("acme", "globex", "initech"))


def test_a_sequence_the_apis_tables_do_not_reach_is_stale(
    remote: Cli, projected: dict[str, str]
) -> None:
    failed_with(remote("plan", "list", "--min-sequence", "999999999"), "read.stale")


def test_options_the_api_has_not_are_usage_errors(remote: Cli, projected: dict[str, str]) -> None:
    for args in (("tenants", "--blocked"), ("task", "show", projected["acme"], "--history")):
        run = remote(*args)
        assert run.code == 2 and "not available with --api" in run.err, run.text
