"""The CLI's queries against read tables kept by a real relay and projector (processes of
their own on the session's broker): plan list and show, tenants, audit and the plan report,
each given the sequence of the command before it, which it then always sees."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli import UUID_PATTERN, Cli, Run
from tests.support.cli import CLI, EXAMPLE, fresh_env
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, kafka: str) -> Iterator[Cli]:
    """The CLI on a private embedded PostgreSQL, with a relay and a projector running."""
    folder = tmp_path_factory.mktemp("cli-read")
    env = fresh_env(
        folder / "data",
        SWITCHYARD_ACTOR="cli:test",
        NO_COLOR="1",
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        SWITCHYARD_KAFKA_TOPIC=f"switchyard.cli.{uuid.uuid4().hex[:8]}",
        SWITCHYARD_PROJECTOR_GROUP=f"cli-{uuid.uuid4().hex[:8]}",
        SWITCHYARD_READ_WAIT_SECONDS="60",
    )
    run = Cli(env, folder)
    assert run("db", "up").code == 0
    roles = []
    for role in ("relay", "projector"):
        with open(folder / f"{role}.out", "wb") as out:
            roles.append(subprocess.Popen([CLI, role], env=env, cwd=folder, stdout=out, stderr=out))
    try:
        wait_until(
            lambda: "assigned partitions [" in (folder / "projector.out").read_text(), 90, "joined"
        )
        yield run
    finally:
        for child in roles:
            child.terminate()
        for child in roles:
            child.wait(60)
        run("db", "down")


def sequence(run: Run) -> str:
    """The sequence a command printed."""
    found = re.search(r"sequence (\d+)", run.out)
    assert found is not None, run.text
    return found.group(1)


def json_of(run: Run) -> dict[str, object]:
    """A successful run's JSON output."""
    assert run.code == 0, run.text
    found: dict[str, object] = json.loads(run.out)
    return found


@pytest.fixture(scope="module")
def created(cli: Cli) -> dict[str, str]:
    """The example plan, created once: its id and the sequence of its creation."""
    run = cli("plan", "create", str(EXAMPLE))
    plan = re.search(rf"plan ({UUID_PATTERN}) created", run.out)
    assert plan is not None, run.text
    return {"plan": plan.group(1), "sequence": sequence(run)}


def test_plan_show_lists_tasks_in_fifo_order_and_pages(cli: Cli, created: dict[str, str]) -> None:
    shown = json_of(
        cli("plan", "show", created["plan"], "--min-sequence", created["sequence"], "--json")
    )
    tasks = shown["tasks"]
    assert isinstance(tasks, list)
    assert [t["tenantId"] for t in tasks] == ["acme", "globex", "initech"]
    page = json_of(cli("plan", "show", created["plan"], "--limit", "2", "--json"))
    assert page["next"] == 1
    rest = json_of(cli("plan", "show", created["plan"], "--after", "1", "--json"))
    assert [t["tenantId"] for t in rest["tasks"]] == ["initech"]  # type: ignore[index]


def test_plan_list_tenants_and_audit_answer_from_the_read_tables(
    cli: Cli, created: dict[str, str]
) -> None:
    at = created["sequence"]
    plans = json_of(cli("plan", "list", "--min-sequence", at, "--json"))["plans"]
    assert created["plan"] in [p["planId"] for p in plans]  # type: ignore[attr-defined]
    tenants = json_of(cli("tenants", "--service-type", "portal", "--json"))["tenants"]
    assert [t["tenantId"] for t in tenants] == ["globex"]  # type: ignore[attr-defined]
    events = json_of(cli("audit", "--plan", created["plan"], "--oldest-first", "--json"))
    assert events["events"][0]["actor"] == "cli:test"  # type: ignore[index]
    table = cli("audit", "--tenant", "acme", "--limit", "2")
    assert table.code == 0 and "next page: --after" in table.out, table.text
    first = events["events"][0]  # type: ignore[index]
    assert json_of(cli("audit", "--sequence", str(first["sequence"]), "--json")) == first
    shown = cli("audit", "--sequence", str(first["sequence"]))
    assert shown.code == 0 and '"max_concurrency"' in shown.out, shown.text
    missing = cli("audit", "--sequence", "999999999")
    assert missing.code == 1 and "audit.event_not_found" in missing.err, missing.text


def test_every_query_given_a_commands_sequence_sees_the_command(
    cli: Cli, created: dict[str, str]
) -> None:
    for round in range(3):
        paused = cli("task", "pause", "--tenant", "initech", "--reason", f"window {round}")
        assert paused.code == 0, paused.text
        found = json_of(
            cli(
                "audit",
                "--tenant",
                "initech",
                "--type",
                "PauseRequested",
                "--limit",
                "1",
                "--min-sequence",
                sequence(paused),
                "--json",
            )
        )
        assert found["events"][0]["payload"]["reason"] == f"window {round}"  # type: ignore[index]
        resumed = cli("task", "resume", "--tenant", "initech")
        assert resumed.code == 0, resumed.text
        shown = json_of(
            cli("plan", "show", created["plan"], "--min-sequence", sequence(resumed), "--json")
        )
        initech = [t for t in shown["tasks"] if t["tenantId"] == "initech"]  # type: ignore[attr-defined]
        assert not initech[0]["pauseRequested"]


def test_the_plan_report_reads_the_read_tables(
    cli: Cli, created: dict[str, str], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    run = cli(
        "plan",
        "report",
        created["plan"],
        "--min-sequence",
        created["sequence"],
        "--html",
        str(page),
    )
    assert run.code == 0, run.text
    assert all(tenant in page.read_text() for tenant in ("acme", "globex", "initech"))
    assert "report written to" in run.out


def test_a_sequence_the_tables_do_not_reach_is_stale(cli: Cli, created: dict[str, str]) -> None:
    run = cli("plan", "list", "--min-sequence", "999999999", SWITCHYARD_READ_WAIT_SECONDS="0.5")
    assert run.code == 1 and "[read.stale]" in run.err, run.text
    assert "the relay has published up to sequence" in run.err
