"""`switchyard tail` on a real PostgreSQL and a real Kafka-protocol broker (embedded tansu).

A relay publishes a plan's events (and republishes them all with `--from 1`);
the tail logic shows every stored event once (duplicate: none; unseen: none),
filters by tenant and type, and stops at its limit or when idle. The CLI runs
in a subprocess too, and finds the embedded broker through the data dir.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from switchyard.adapters.bootstrap import kafka_servers
from switchyard.adapters.embedded.kafka import ADDRESS_FILE, embedded_broker_address
from switchyard.adapters.kafka.tail import TailConfig, TailEvent, TailFilter, tail
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from tests.support.builders import plan_request, run_stages
from tests.support.kafka import caught_up, running, stored_events
from tests.support.waiting import wait_until

CLI = str(Path(sys.executable).parent / "switchyard")
TENANTS = ("t00", "t01", "t02", "t03")
IDLE_SECONDS = 2.0
"""How long a test's tail waits without messages before it counts the topic as read."""


@pytest.fixture()
def published(pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig) -> RelayConfig:
    """The test's own topic holding a plan's events twice: published, then from 1 again."""
    created = pg_app.create_plan(plan_request(*TENANTS), actor="alice")
    for task_id in created.task_ids:
        run_stages(pg_app, task_id, 2)
    with running(pg_env, config) as relay:
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    with running(pg_env, config, start_from=1) as relay:
        wait_until(lambda: relay.position > 0 and caught_up(relay, pg_app), what="republished")
    return config


def read(
    config: RelayConfig, tail_filter: TailFilter | None = None, **options: int
) -> list[TailEvent]:
    """What a tail in a fresh group shows from the beginning until the topic is idle."""
    shown: list[TailEvent] = []
    tail_config = TailConfig(
        bootstrap_servers=config.bootstrap_servers,
        topic=config.topic,
        group=f"test-tail-{uuid.uuid4().hex[:8]}",
        from_beginning=True,
        idle_seconds=IDLE_SECONDS,
        filter=tail_filter or TailFilter(),
        limit=options.get("limit"),
    )
    count = tail(tail_config, shown.append, threading.Event())
    assert count == len(shown)
    return shown


def test_tail_shows_every_stored_event_once(pg_app: Switchyard, published: RelayConfig) -> None:
    stored = stored_events(pg_app)
    shown = read(published)
    assert sorted(e.key for e in shown) == sorted((a, v) for a, v, _ in stored)  # no duplicate
    assert {e.sequence for e in shown} == {i for _, _, i in stored}
    by_partition: dict[int, list[int]] = {}
    for event in shown:
        by_partition.setdefault(event.partition, []).append(event.sequence)
    assert all(s == sorted(s) for s in by_partition.values())  # out of order: none


def test_tail_filters_by_tenant_and_type(pg_app: Switchyard, published: RelayConfig) -> None:
    everything = read(published)
    mine = read(published, TailFilter(tenant="t01"))
    assert mine and {e.tenant_id for e in mine} == {"t01"}
    assert sorted(e.key for e in mine) == sorted(e.key for e in everything if e.tenant_id == "t01")
    task_types = {e.type for e in mine if e.headers["ce_aggregatetype"] == "Task"}
    assert "switchyard.task.StageCompleted" in task_types  # learnt from the task's Created
    completed = read(published, TailFilter(type="StageCompleted"))
    assert len(completed) == len(TENANTS) * 2
    assert {e.type for e in completed} == {"switchyard.task.StageCompleted"}


def test_a_new_tail_shows_only_what_is_published_after_it_started(
    pg_app: Switchyard, pg_env: dict[str, str], published: RelayConfig
) -> None:
    before = {(a, v) for a, v, _ in stored_events(pg_app)}
    shown: list[TailEvent] = []
    stop = threading.Event()
    live = TailConfig(
        bootstrap_servers=published.bootstrap_servers,
        topic=published.topic,
        group=f"test-tail-{uuid.uuid4().hex[:8]}",
    )
    reader = threading.Thread(target=tail, args=(live, shown.append, stop))
    reader.start()
    try:
        with running(pg_env, published) as relay:
            plans = itertools.count()

            def one_more_plan_shown() -> bool:
                # A new group takes seconds to join on the embedded broker: publish
                # until the tail shows something, bounded by time, not by a count of
                # plans (how many fit in the join depends on the machine).
                pg_app.create_plan(plan_request(f"new{next(plans)}"), actor="bob")
                wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
                return bool(shown)

            wait_until(one_more_plan_shown, 60, "a live event shown")
    finally:
        stop.set()
        reader.join(30)
    assert not reader.is_alive()
    assert not {e.key for e in shown} & before, "an event published before the tail started"
    assert all(e.tenant_id.startswith("new") for e in shown if e.tenant_id is not None)


def test_tail_stops_at_its_limit(published: RelayConfig) -> None:
    assert len(read(published, limit=5)) == 5


def test_kafka_servers_publishes_the_embedded_broker_address(tmp_path: Path) -> None:
    settings = Settings().model_copy(update={"kafka_bootstrap_servers": None, "data_dir": tmp_path})
    assert embedded_broker_address(tmp_path) is None
    with kafka_servers(settings) as servers:
        assert embedded_broker_address(tmp_path) == servers
    assert embedded_broker_address(tmp_path) is None
    assert not (tmp_path / "kafka" / ADDRESS_FILE).exists()


def test_a_stale_address_file_finds_no_broker(tmp_path: Path) -> None:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / ADDRESS_FILE).write_text("127.0.0.1:1\n")
    assert embedded_broker_address(tmp_path) is None


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without a Kafka address, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if "KAFKA" not in k}
    return {**env, **extra}


def test_cli_prints_json_lines_and_exits_when_idle(
    pg_app: Switchyard, published: RelayConfig, tmp_path: Path
) -> None:
    env = cli_env(
        KAFKA_BOOTSTRAP_SERVERS=published.bootstrap_servers, SWITCHYARD_KAFKA_TOPIC=published.topic
    )
    done = subprocess.run(
        [CLI, "tail", "--json", "--from-beginning", "--idle-seconds", "3"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    keys = sorted(
        (m["headers"]["ce_aggregateid"], int(m["headers"]["ce_aggregateversion"])) for m in lines
    )
    assert keys == sorted((a, v) for a, v, _ in stored_events(pg_app))
    assert all(m["value"]["timestamp"] == m["headers"]["ce_time"] for m in lines)


def test_cli_without_a_broker_fails_with_a_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [CLI, "tail", "--idle-seconds", "1"],
        env=cli_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "[kafka.unavailable]" in done.stderr
