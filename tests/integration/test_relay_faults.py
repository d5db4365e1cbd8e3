"""Relay faults: a relay killed mid-publish loses nothing; only its unrecorded tail repeats;
a standby takes over from an active relay that was killed, whose reader process
goes with it; a relay whose reader process dies starts another."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql

from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.store import POSITION_TABLE
from switchyard.application.app import Switchyard
from tests.support.kafka import (
    assert_complete_and_ordered,
    caught_up,
    consume,
    run_plan,
    running,
    stored_events,
)
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def recorded_position(database_url: str, schema: str) -> int:
    """The relay's recorded position (0 before the first)."""
    query = sql.SQL("SELECT position FROM {} WHERE id = 1").format(
        sql.Identifier(schema, POSITION_TABLE)
    )
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return 0 if row is None else int(row[0])


def start_relay(
    pg_env: dict[str, str], config: RelayConfig, output: Path
) -> subprocess.Popen[bytes]:
    """A relay in a process of its own (`tests.support.child_relay`), its log in `output`."""
    env = {
        **os.environ,
        "SWITCHYARD_TEST_STORE_ENV": json.dumps(pg_env),
        "SWITCHYARD_TEST_KAFKA": config.bootstrap_servers,
        "SWITCHYARD_TEST_TOPIC": config.topic,
    }
    with open(output, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.child_relay"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def is_active(output: Path) -> bool:
    """Whether the relay logging to `output` has become the active one."""
    return "relay: active" in output.read_text(errors="replace")


def children(pid: int) -> set[int]:
    """The processes `pid` started (from /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def cmdline(pid: int) -> str:
    """The command line of a process ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_relay_killed_mid_publish_loses_nothing_and_duplicates_only_its_unrecorded_tail(
    pg_app: Switchyard,
    pg_env: dict[str, str],
    config: RelayConfig,
    database_url: str,
    tmp_path: Path,
) -> None:
    run_plan(pg_app, 150)
    last = pg_app.recorder.max_notification_id() or 0
    schema = pg_env["POSTGRES_SCHEMA"]
    child = start_relay(pg_env, config, tmp_path / "relay.out")
    try:
        wait_until(lambda: recorded_position(database_url, schema) > 0, 30, "the relay publishing")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    at_kill = recorded_position(database_url, schema)
    assert 0 < at_kill < last, "the kill did not land mid-publish; make the plan bigger"
    with running(pg_env, config) as relay:
        wait_until(lambda: caught_up(relay, pg_app), 60, "the second relay caught up")
    stored = stored_events(pg_app)
    messages = consume(config, len(stored), timeout=60)
    assert_complete_and_ordered(messages, pg_app)  # no lost write, nothing out of order
    seen: dict[tuple[str, int], int] = {}
    for message in messages:
        seen[message.event] = seen.get(message.event, 0) + 1
    duplicated = [int(m.headers["ce_sequence"]) for m in messages if seen[m.event] > 1]
    assert all(sequence > at_kill for sequence in duplicated), "a duplicate of a recorded batch"


def test_a_standby_relay_takes_over_when_the_active_one_is_killed(
    pg_app: Switchyard,
    pg_env: dict[str, str],
    config: RelayConfig,
    database_url: str,
    tmp_path: Path,
) -> None:
    schema = pg_env["POSTGRES_SCHEMA"]
    outputs = [tmp_path / "first.out", tmp_path / "second.out"]
    first = start_relay(pg_env, config, outputs[0])
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: is_active(outputs[0]), 30, "the first relay active")
        second = start_relay(pg_env, config, outputs[1])
        run_plan(pg_app, 10)
        last = pg_app.recorder.max_notification_id() or 0
        wait_until(lambda: recorded_position(database_url, schema) == last, 30, "published")
        assert not is_active(outputs[1]), "two relays active at once"
        readers = children(first.pid)
        assert readers, "the active relay has no reader process"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        wait_until(lambda: not any(alive(p) for p in readers), 10, "the killed relay's reader gone")
        run_plan(pg_app, 10)
        wait_until(lambda: is_active(outputs[1]), 15, "the standby taking over")
        last = pg_app.recorder.max_notification_id() or 0
        wait_until(lambda: recorded_position(database_url, schema) == last, 30, "caught up")
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait(10)
    stored = stored_events(pg_app)
    assert_complete_and_ordered(consume(config, len(stored)), pg_app)


def test_a_relay_whose_reader_process_dies_starts_another_and_goes_on(
    pg_app: Switchyard,
    pg_env: dict[str, str],
    config: RelayConfig,
    database_url: str,
    tmp_path: Path,
) -> None:
    schema = pg_env["POSTGRES_SCHEMA"]
    relay = start_relay(pg_env, config, tmp_path / "relay.out")
    try:
        run_plan(pg_app, 5)
        last = pg_app.recorder.max_notification_id() or 0
        wait_until(lambda: recorded_position(database_url, schema) == last, 30, "published")
        readers = {p for p in children(relay.pid) if "spawn_main" in cmdline(p)}
        assert len(readers) == 1
        os.kill(readers.pop(), signal.SIGKILL)
        run_plan(pg_app, 5)
        last = pg_app.recorder.max_notification_id() or 0
        wait_until(lambda: recorded_position(database_url, schema) == last, 30, "published on")
        assert "its reader process died" in (tmp_path / "relay.out").read_text()
    finally:
        relay.kill()
        relay.wait(10)
    stored = stored_events(pg_app)
    assert_complete_and_ordered(consume(config, len(stored)), pg_app)
