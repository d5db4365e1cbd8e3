"""The projector on a real broker and PostgreSQL: the read tables it builds from the topic
equal a rebuild from the store, after a plan run end to end, after a kill -9 mid-batch and
a restart, and with two projectors in one group of which one is killed; a query given a
command's sequence sees the command."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine

from switchyard.adapters.bootstrap import Container, container
from switchyard.adapters.postgres.freshness import projector_status, wait_for
from switchyard.adapters.postgres.read_store import read_positions
from switchyard.adapters.projector.config import ProjectorConfig
from switchyard.adapters.projector.consumer import Projector
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.topic import Topics
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from tests.integration.test_read_model import rows
from tests.support.builders import plan_request
from tests.support.kafka import caught_up, run_plan, running
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def store(pg_env: dict[str, str], read_database_url: str | None = None) -> Iterator[Container]:
    """A container on the test's event store (its read tables there too, unless given)."""
    settings = Settings(database_url=None, read_database_url=read_database_url).with_loopback()
    with container(settings, env=pg_env) as parts:
        yield parts


def projector_config(config: RelayConfig, group: str | None = None) -> ProjectorConfig:
    """A projector on the relay's topic, in a group of the test's own, in small batches."""
    return ProjectorConfig(
        bootstrap_servers=config.bootstrap_servers,
        topic=config.topic,
        group=group or f"projector-{uuid.uuid4().hex[:8]}",
        max_batch=20,
        retry_seconds=0.2,
    )


@contextmanager
def projecting(
    pg_env: dict[str, str], config: ProjectorConfig, read_database_url: str | None = None
) -> Iterator[Container]:
    """A projector in a thread of a container of its own, stopped on exit."""
    with projector_in_thread(pg_env, config, read_database_url) as (parts, _):
        yield parts


@contextmanager
def projector_in_thread(
    pg_env: dict[str, str], config: ProjectorConfig, read_database_url: str | None = None
) -> Iterator[tuple[Container, Projector]]:
    """`projecting`, and the projector (for its counts)."""
    with store(pg_env, read_database_url) as parts:
        projector = parts.projector(config)
        thread = parts.in_thread("projector", projector.run, join_seconds=30)
        yield parts, projector
    assert not thread.is_alive(), "the projector did not stop"


def reflects_everything(
    engine: Engine, app: Switchyard, topic: str, store: Engine | None = None
) -> bool:
    """Whether the read tables reflect the store's last event (a short wait)."""
    return wait_for(engine, topic, app.recorder.max_notification_id() or 0, 0.5, store).fresh


def applied_everything(parts: Container, app: Switchyard, topic: str) -> Engine:
    """Wait until the read tables of `parts` reflect the store's last event; their engine."""
    engine = parts.read_engine()
    wait_until(lambda: reflects_everything(engine, app, topic), 60, "applied")
    return engine


def assert_equal_to_a_rebuild(parts: Container) -> None:
    """The read tables as built, then rebuilt from the store: the same rows."""
    built = rows(parts.read_engine())
    parts.rebuild_read_tables()
    assert rows(parts.read_engine()) == built


def start_projector(
    pg_env: dict[str, str], config: ProjectorConfig, output: Path
) -> subprocess.Popen[bytes]:
    """A projector in a process of its own (`tests.support.child_projector`)."""
    env = {
        **os.environ,
        "SWITCHYARD_TEST_STORE_ENV": json.dumps(pg_env),
        "SWITCHYARD_TEST_KAFKA": config.bootstrap_servers,
        "SWITCHYARD_TEST_TOPIC": config.topic,
        "SWITCHYARD_TEST_GROUP": config.group,
    }
    with open(output, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.child_projector"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def assigned(output: Path) -> bool:
    """Whether the projector logging to `output` has been given partitions."""
    return (
        re.search(r"projector: assigned partitions \[\d", output.read_text(errors="replace"))
        is not None
    )


def kill(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and reap it."""
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(10)


def test_tables_built_from_the_topic_equal_a_rebuild_from_the_store(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    run_plan(pg_app, 30)
    projecting_config = projector_config(config)
    with running(pg_env, config) as relay, projecting(pg_env, projecting_config) as parts:
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up")
        engine = applied_everything(parts, pg_app, config.topic)
        with engine.connect() as conn:
            status = projector_status(conn, config.topic)
        assert status.lag_events == 0 and status.held == 0
        assert sum(p.next_offset or 0 for p in status.partitions) == relay.position
        stored = read_positions(engine, config.topic)
        told = lambda: kafka_offsets(projecting_config) == stored  # noqa: E731
        wait_until(told, 60, "the stored positions told to Kafka, for lag tools")
        assert_equal_to_a_rebuild(parts)


def kafka_offsets(config: ProjectorConfig) -> dict[int, int]:
    """The offsets the projector's group committed to Kafka, per partition of its topic."""

    async def listed() -> dict[int, int]:
        # A member that never joins: it only asks the group's coordinator.
        asking = AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers, group_id=config.group)
        await asking.start()
        try:
            found: dict[int, int] = {}
            for partition in asking.partitions_for_topic(config.topic) or set():
                at = await asking.committed(TopicPartition(config.topic, partition))
                if at is not None:
                    found[partition] = at
            return found
        finally:
            await asking.stop()

    return asyncio.run(listed())


def test_a_query_given_a_commands_sequence_sees_the_command(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    with running(pg_env, config), projecting(pg_env, projector_config(config)) as parts:
        engine = parts.read_engine()
        for round in range(5):
            recorded = pg_app.create_plan(plan_request(f"rw{round}"), "alice")
            fresh = wait_for(engine, config.topic, recorded.sequence, 60)
            assert fresh.fresh, fresh.status
            with engine.connect() as conn:
                got = conn.exec_driver_sql(
                    "SELECT tasks_total FROM switchyard_read_plans WHERE plan_id = %s",
                    (str(recorded.plan_id),),
                ).scalar()
            assert got == 1


def test_a_projector_killed_mid_batch_and_restarted_leaves_the_tables_exact(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig, tmp_path: Path
) -> None:
    run_plan(pg_app, 60)
    projector = projector_config(config)
    with running(pg_env, config) as relay, store(pg_env) as parts:
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up")
        engine = parts.read_engine()
        child = start_projector(pg_env, projector, tmp_path / "first.out")
        try:
            wait_until(lambda: sum(read_positions(engine, config.topic).values()) > 40, 60, "")
            kill(child)
        finally:
            kill(child)
        at_kill = sum(read_positions(engine, config.topic).values())
        assert at_kill < relay.position, "the kill did not land mid-topic; make the plan bigger"
        child = start_projector(pg_env, projector, tmp_path / "second.out")
        try:
            wait_until(lambda: reflects_everything(engine, pg_app, config.topic), 90, "applied")
        finally:
            kill(child)
        assert_equal_to_a_rebuild(parts)


def test_two_projectors_in_one_group_with_one_killed_leave_the_tables_exact(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig, tmp_path: Path
) -> None:
    projector = projector_config(config)
    outputs = [tmp_path / "one.out", tmp_path / "two.out"]
    with running(pg_env, config) as relay, store(pg_env) as parts:
        engine = parts.read_engine()
        children = [start_projector(pg_env, projector, out) for out in outputs]
        try:
            wait_until(lambda: all(assigned(out) for out in outputs), 90, "both assigned")
            run_plan(pg_app, 40)
            wait_until(lambda: sum(read_positions(engine, config.topic).values()) > 20, 60, "")
            kill(children[0])
            run_plan(pg_app, 20, prefix="u")
            wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up")
            wait_until(lambda: reflects_everything(engine, pg_app, config.topic), 120, "applied")
        finally:
            for child in children:
                kill(child)
        assert_equal_to_a_rebuild(parts)


@pytest.fixture()
def read_database(database_url: str) -> Iterator[str]:
    """The URL of a database of its own on the test server, dropped after the test."""
    name = f"reads_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(database_url, dbname=name)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_read_tables_can_live_in_another_database(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig, read_database: str
) -> None:
    run_plan(pg_app, 10)
    projector = projector_config(config)
    with running(pg_env, config) as relay, projecting(pg_env, projector, read_database) as parts:
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up")
        engine, on_store = parts.read_engine(), parts.store_apart()
        assert on_store is not None
        wait_until(lambda: reflects_everything(engine, pg_app, config.topic, on_store), 60, "")
        assert len(rows(engine)["switchyard_read_tasks"]) == 10
        assert rows(parts.store_engine())["switchyard_read_tasks"] == []
        assert_equal_to_a_rebuild(parts)


def test_a_restarted_projector_reads_on_from_its_stored_positions(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    # The relay sends records in batches of several: the embedded broker's ListOffsets
    # answer for a partition ending in one was below its end, and a restarted projector
    # took its stored positions for a topic created anew and read everything again.
    run_plan(pg_app, 30)
    projector = projector_config(config)
    with running(pg_env, config) as relay:
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up")
        with projecting(pg_env, projector) as parts:
            applied_everything(parts, pg_app, config.topic)
        run_plan(pg_app, 5, prefix="u")
        with projector_in_thread(pg_env, projector) as (parts, restarted):
            applied_everything(parts, pg_app, config.topic)
    assert restarted.applied > 0
    assert restarted.duplicates == 0


def test_a_topic_created_anew_is_read_from_the_start(
    pg_app: Switchyard,
    pg_env: dict[str, str],
    config: RelayConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_plan(pg_app, 10)
    projector = projector_config(config)
    with running(pg_env, config) as relay, projecting(pg_env, projector) as parts:
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up")
        applied_everything(parts, pg_app, config.topic)
    asyncio.run(recreate(config))
    caplog.set_level(logging.WARNING, "switchyard.adapters.projector.consumer")
    with running(pg_env, config), projecting(pg_env, projector) as parts:
        created_anew = lambda: "created anew" in caplog.text  # noqa: E731
        wait_until(created_anew, 60, "the projector noticed the topic created anew")
        run_plan(pg_app, 5, prefix="u")
        engine = applied_everything(parts, pg_app, config.topic)
        assert (
            sum(read_positions(engine, config.topic).values())
            < pg_app.recorder.max_notification_id()
        )
        assert_equal_to_a_rebuild(parts)


async def recreate(config: RelayConfig) -> None:
    """Delete the relay's topic and create it again, empty (as a restarted embedded broker)."""
    topics = Topics(config.bootstrap_servers, [config.topic], config.partitions, 1, 30_000)
    await topics.start()
    try:
        await topics.recreate(config.topic)
    finally:
        await topics.close()
