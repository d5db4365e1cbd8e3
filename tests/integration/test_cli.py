"""The real `switchyard` CLI in subprocesses, on its embedded PostgreSQL in a temporary folder."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.postgres.persistence import event_store_env
from switchyard.adapters.settings import Settings
from tests.support.builders import plan_request
from tests.support.cli import CLI, CLOSED_PORT_URL, EXAMPLE, fresh_env

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass(frozen=True)
class Run:
    """What one CLI run gave: its exit code and both outputs."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """Everything it printed."""
        return self.out + self.err


@dataclass(frozen=True)
class Cli:
    """Runs the CLI with one environment, in one working folder."""

    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, **env: str) -> Run:
        """Run `switchyard ARGS` (with extra environment variables) and wait for it."""
        done = subprocess.run(
            [CLI, *args],
            env={**self.env, **env},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """The CLI on a private embedded PostgreSQL, started once and stopped at the end."""
    folder = tmp_path_factory.mktemp("cli")
    env = fresh_env(
        folder / "data",
        SWITCHYARD_ACTOR="cli:test",
        SWITCHYARD_DB_CONNECT_TIMEOUT="1",
        NO_COLOR="1",
    )
    run = Cli(env, folder)
    up = run("db", "up")
    assert up.code == 0, up.text
    yield run
    run("db", "down")


@pytest.fixture(scope="module")
def created(cli: Cli) -> dict[str, str]:
    """The example plan, created once: tenant id -> task id, and 'plan' -> plan id."""
    run = cli("plan", "create", str(EXAMPLE))
    assert run.code == 0, run.text
    plan = re.search(rf"plan ({UUID_PATTERN}) created", run.out)
    tasks = dict((t, i) for i, t in re.findall(rf"task ({UUID_PATTERN})\s+tenant (\S+)", run.out))
    assert plan is not None, run.out
    return {"plan": plan.group(1), **tasks}


def event_count(cli: Cli) -> int:
    """How many events the CLI's embedded store holds."""
    url = cli("db", "up").out.strip()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM switchyard_events").fetchone()
    assert row is not None
    return int(row[0])


def assert_clean_failure(run: Run) -> None:
    """Non-zero exit and no traceback."""
    assert run.code != 0, run.text
    assert "Traceback" not in run.text


# -- the happy path ----------------------------------------------------------


def test_plan_create_prints_the_plan_and_task_ids(created: dict[str, str]) -> None:
    assert set(created) == {"plan", "acme", "globex", "initech"}
    assert len(set(created.values())) == 4


def test_task_show_by_tenant(cli: Cli, created: dict[str, str]) -> None:
    run = cli("task", "show", "--tenant", "acme")
    assert run.code == 0, run.text
    assert created["acme"] in run.out
    assert "QUEUED" in run.out


def test_task_show_json_parses(cli: Cli, created: dict[str, str]) -> None:
    run = cli("task", "show", "--tenant", "globex", "--json")
    assert run.code == 0, run.text
    view = json.loads(run.out)
    assert (view["taskId"], view["tenantId"], view["status"]) == (
        created["globex"],
        "globex",
        "QUEUED",
    )


def test_plan_show_without_a_projector_says_the_read_tables_are_behind(
    cli: Cli, created: dict[str, str]
) -> None:
    run = cli("plan", "show", created["plan"])
    assert_clean_failure(run)
    assert "[plan.not_found]" in run.err and "the read tables, which are behind" in run.err
    assert "the relay has published up to sequence 0" in run.err, run.err


def test_steering_is_recorded_with_actor_and_reason(cli: Cli, created: dict[str, str]) -> None:
    assert cli("task", "pause", "--tenant", "initech", "--reason", "window").code == 0
    run = cli("task", "show", created["initech"], "--history", "--json")
    assert run.code == 0, run.text
    shown = json.loads(run.out)
    assert shown["task"]["status"] == "PAUSED"
    asked = [e["fields"] for e in shown["history"] if e["type"] == "PauseRequested"]
    assert asked == [{"actor": "cli:test", "reason": "window"}]
    assert cli("task", "resume", "--tenant", "initech").code == 0


def stored_traceparents(cli: Cli, aggregate_id: str) -> list[str | None]:
    """The traceparent stored with each of an aggregate's events, oldest first."""
    url = cli("db", "up").out.strip()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT state FROM switchyard_events WHERE originator_id = %s"
            " ORDER BY originator_version",
            (uuid.UUID(aggregate_id),),
        ).fetchall()
    return [json.loads(state).get("_metadata", {}).get("traceparent") for (state,) in rows]


def test_a_command_runs_in_the_trace_of_its_traceparent_variable(
    cli: Cli, created: dict[str, str]
) -> None:
    before = len(stored_traceparents(cli, created["initech"]))
    assert cli("task", "pause", "--tenant", "initech", TRACEPARENT=TRACEPARENT).code == 0
    paused = len(stored_traceparents(cli, created["initech"]))
    resumed = cli("task", "resume", "--tenant", "initech", TRACEPARENT=TRACEPARENT.upper())
    assert resumed.code == 0, resumed.text
    stored = stored_traceparents(cli, created["initech"])
    assert paused > before
    assert stored[before:paused] == [TRACEPARENT] * (paused - before)
    assert len(stored) > paused
    assert set(stored[paused:]) == {None}


def test_restart_keeps_everything(cli: Cli, created: dict[str, str]) -> None:
    before = cli("task", "show", "--tenant", "acme", "--json")
    down = cli("db", "down")
    assert (down.code, down.out.strip()) == (0, "stopped")
    after = cli("task", "show", "--tenant", "acme", "--json")
    assert after.code == 0, after.text
    assert json.loads(after.out) == json.loads(before.out)
    assert json.loads(after.out)["taskId"] == created["acme"]


# -- errors ------------------------------------------------------------------


BAD_PLAN = """\
name: broken
maxConcurrency: 0
tenants:
  - tenantId: bad-one
    serviceType: no-such-type
    targetVersion: 2.5.0
    endpoints: ["not a host!"]
  - tenantId: bad-one
    serviceType: portal
    endpoints: ["127.0.0.1:80"]
  - tenantId: nosy
    serviceType: portal
    targetVersion: 2.5.0
    endpoints: ["http://169.254.169.254/latest/meta-data"]
"""
BAD_PLAN_PROBLEMS = [
    ("maxConcurrency", "out_of_range"),
    ("tenants[0].serviceType", "unknown_service_type"),
    ("tenants[0].endpoints[0]", "malformed_endpoint"),
    ("tenants[1].targetVersion", "required"),
    ("tenants[1].tenantId", "duplicate_tenant"),
    ("tenants[2].endpoints[0]", "url.refused"),
]


def test_invalid_plan_lists_every_problem_and_records_nothing(
    cli: Cli, created: dict[str, str], bad_plan_file: Path
) -> None:
    before = event_count(cli)
    run = cli("plan", "create", str(bad_plan_file))
    assert_clean_failure(run)
    assert run.code == 1
    rows = {tuple(re.split(r"\s*[│|]\s*", line.strip())[:2]) for line in run.err.splitlines()}
    missing = [problem for problem in BAD_PLAN_PROBLEMS if problem not in rows]
    assert missing == [], run.err
    assert event_count(cli) == before
    assert cli("task", "show", "--tenant", "bad-one").code == 1


def test_unknown_tenant_fails_cleanly(cli: Cli, created: dict[str, str]) -> None:
    run = cli("task", "show", "--tenant", "nobody")
    assert_clean_failure(run)
    assert run.code == 1
    assert "error [tenant.not_found]" in run.err, run.err


def test_invalid_uuid_is_a_usage_error(cli: Cli) -> None:
    run = cli("plan", "show", "not-a-uuid")
    assert_clean_failure(run)
    assert run.code == 2


def readonly_url(database_url: str) -> str:
    """A URL, on the session's server, for a role that may read the event store but not write."""
    name = f"ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    owner_url = make_conninfo(database_url, dbname=name)
    app = bootstrap(Settings(database_url=None).with_loopback(), env=event_store_env(owner_url))
    app.create_plan(plan_request("acme"), "setup")
    app.close()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}")
    parts = {k: v for k, v in conninfo_to_dict(owner_url).items() if k != "password"}
    return make_conninfo("", **{**parts, "user": name})


@pytest.fixture(scope="module")
def failures(
    cli: Cli, database_url: str, created: dict[str, str], bad_plan_file: Path
) -> dict[str, tuple[str, Run]]:
    """Each failing CLI run, by case name: the code it must print, and what it gave."""
    unreadable = cli.cwd / "unreadable.yaml"
    unreadable.write_text("name: [unclosed\ntenants: {", encoding="utf-8")
    not_utf8 = cli.cwd / "binary.yaml"
    not_utf8.write_bytes(b"\xff\xfe\x00garbage")
    readonly = readonly_url(database_url)
    return {
        "invalid plan": ("plan.invalid", cli("plan", "create", str(bad_plan_file))),
        "invalid yaml": ("request.unreadable", cli("plan", "create", str(unreadable))),
        "not utf-8": ("request.unreadable", cli("plan", "create", str(not_utf8))),
        "missing file": ("request.unreadable", cli("plan", "create", "/nonexistent/plan.yaml")),
        "unknown tenant": ("tenant.not_found", cli("task", "show", "--tenant", "nobody")),
        "unknown plan": ("plan.not_found", cli("plan", "show", str(uuid.uuid4()))),
        "refused command": ("task.invalid_transition", cli("task", "resume", "--tenant", "acme")),
        "database down": (
            "store.unavailable",
            cli("task", "show", "--tenant", "acme", DATABASE_URL=CLOSED_PORT_URL),
        ),
        "bad setting": (
            "settings.invalid",
            cli("task", "show", "--tenant", "acme", SWITCHYARD_WORKERS="many"),
        ),
        "write refused": (
            "store.refused",
            cli(
                "plan",
                "create",
                str(EXAMPLE),
                DATABASE_URL=readonly,
                SWITCHYARD_CREATE_TABLES="false",
            ),
        ),
    }


CASES = [
    "invalid plan",
    "invalid yaml",
    "not utf-8",
    "missing file",
    "unknown tenant",
    "unknown plan",
    "refused command",
    "database down",
    "bad setting",
    "write refused",
]


@pytest.fixture(scope="module")
def bad_plan_file(cli: Cli) -> Path:
    """The plan file with several problems, for every test that needs it."""
    path = cli.cwd / "bad-plan.yaml"
    path.write_text(BAD_PLAN, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", CASES)
def test_cli_error_exits_non_zero_without_traceback(
    case: str, failures: dict[str, tuple[str, Run]], created: dict[str, str]
) -> None:
    _, run = failures[case]
    assert_clean_failure(run)
    assert "internal" not in run.err


@pytest.mark.parametrize("case", CASES)
def test_cli_error_prints_its_code(
    case: str, failures: dict[str, tuple[str, Run]], created: dict[str, str]
) -> None:
    code, run = failures[case]
    assert code in run.err, run.err


def test_a_bad_setting_names_its_variable(failures: dict[str, tuple[str, Run]]) -> None:
    _, run = failures["bad setting"]
    assert "SWITCHYARD_WORKERS" in run.err and "integer" in run.err


def test_role_that_may_only_read_can_read(cli: Cli, database_url: str) -> None:
    url = readonly_url(database_url)
    run = cli(
        "task",
        "show",
        "--tenant",
        "acme",
        "--json",
        DATABASE_URL=url,
        SWITCHYARD_CREATE_TABLES="false",
    )
    assert run.code == 0, run.text
