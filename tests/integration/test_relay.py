"""The relay on a real PostgreSQL and a real Kafka-protocol broker (embedded tansu by default).

Every stored event arrives once (after dropping duplicates by aggregate id and
version), each aggregate's in version order, sequences increasing per
partition; only one of two relays publishes; `--from` republishes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer

from adapters.bootstrap import bootstrap
from adapters.embedded_kafka import start_kafka
from adapters.relay import Relay, RelayConfig, build_relay
from adapters.settings import Settings
from application.app import Switchyard
from tests.scenarios import plan_request, run_stages
from tests.schedulers import wait_until

TENANTS = 30
"""Tenants in the test plan: with their stages, several hundred events."""


@dataclass(frozen=True)
class Message:
    """One consumed message: where it was, and its CloudEvents headers as text."""

    partition: int
    offset: int
    headers: dict[str, str]

    @property
    def event(self) -> tuple[str, int]:
        """The (aggregate id, version) it carries: the dedup key."""
        return self.headers["ce_aggregateid"], int(self.headers["ce_aggregateversion"])


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for the module: KAFKA_BOOTSTRAP_SERVERS, else an embedded tansu."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    with start_kafka(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker.bootstrap_servers


@pytest.fixture()
def config(kafka: str) -> RelayConfig:
    """A relay configuration on a topic of the test's own, with short pauses."""
    topic = f"switchyard.test.{uuid.uuid4().hex[:8]}"
    return RelayConfig(
        bootstrap_servers=kafka,
        topic=topic,
        batch_size=50,
        poll_seconds=0.2,
        standby_seconds=0.2,
        max_backoff_seconds=1.0,
    )


@contextmanager
def running(
    pg_env: dict[str, str], config: RelayConfig, start_from: int | None = None
) -> Iterator[Relay]:
    """A relay on its own application (as in its own process), in a thread until exit."""
    app = bootstrap(Settings(database_url=None), env=pg_env)
    stop = threading.Event()
    relay = build_relay(app.recorder, app.mapper.transcoder, config, stop, start_from)
    thread = threading.Thread(target=relay.run, name="relay")
    thread.start()
    try:
        yield relay
    finally:
        stop.set()
        thread.join(timeout=30)
        app.close()
        assert not thread.is_alive(), "the relay did not stop"


def write_events(app: Switchyard) -> None:
    """A plan of TENANTS tasks, and a worker completing three stages of each."""
    created = app.create_plan(plan_request(*(f"t{i:02}" for i in range(TENANTS))), actor="alice")
    for task_id in created.task_ids:
        run_stages(app, task_id, 3)


def caught_up(relay: Relay, app: Switchyard) -> bool:
    """Whether the relay has published up to the last stored event."""
    return relay.position == (app.recorder.max_notification_id() or 0)


def consume(config: RelayConfig, count: int, timeout: float = 30.0) -> list[Message]:
    """The topic's messages from the beginning, until `count` have come (or the deadline)."""

    async def read() -> list[Message]:
        consumer = AIOKafkaConsumer(
            config.topic,
            bootstrap_servers=config.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[Message] = []
        try:
            deadline = time.monotonic() + timeout
            while len(found) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    found.extend(
                        Message(r.partition, r.offset, {k: v.decode() for k, v in r.headers})
                        for r in records
                    )
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def stored_events(app: Switchyard) -> list[tuple[str, int, int]]:
    """Every stored event as (aggregate id, version, notification id), in log order."""
    notifications = app.recorder.select_notifications(0, 100_000, inclusive_of_start=False)
    return [(str(n.originator_id), n.originator_version, n.id) for n in notifications]


def assert_complete_and_ordered(messages: list[Message], app: Switchyard) -> None:
    """One message per stored event after dedup; versions and sequences in order."""
    stored = stored_events(app)
    firsts: dict[tuple[str, int], Message] = {}
    for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
        firsts.setdefault(message.event, message)
    assert sorted(firsts) == sorted((a, v) for a, v, _ in stored)
    for message in firsts.values():
        stored_id = next(i for a, v, i in stored if (a, v) == message.event)
        assert int(message.headers["ce_sequence"]) == stored_id
    by_partition: dict[int, list[Message]] = {}
    for message in sorted(firsts.values(), key=lambda m: (m.partition, m.offset)):
        by_partition.setdefault(message.partition, []).append(message)
    for partition in by_partition.values():
        sequences = [m.headers["ce_sequence"] for m in partition]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
        versions: dict[str, int] = {}
        for message in partition:
            aggregate, version = message.event
            assert version > versions.get(aggregate, 0)
            versions[aggregate] = version


def test_every_stored_event_is_published_once_in_order(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    with running(pg_env, config) as relay:
        write_events(pg_app)
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    stored = stored_events(pg_app)
    assert len(stored) > 300
    messages = consume(config, len(stored))
    assert len(messages) == len(stored)
    assert len({m.partition for m in messages}) == config.partitions
    assert_complete_and_ordered(messages, pg_app)


def test_only_one_of_two_relays_publishes_and_the_other_takes_over(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    with running(pg_env, config) as first:
        wait_until(lambda: first.active, what="the first relay active")
        with running(pg_env, config) as second:
            pg_app.create_plan(plan_request("a", "b", "c"), actor="alice")
            wait_until(lambda: caught_up(first, pg_app), what="the first relay caught up")
            assert first.active
            assert not second.active
            assert second.position == 0
            first_stop = first
        assert first_stop.active
    with running(pg_env, config) as third, running(pg_env, config) as fourth:
        wait_until(lambda: third.active or fourth.active, what="a relay active")
        write_events(pg_app)
        wait_until(
            lambda: caught_up(third, pg_app) or caught_up(fourth, pg_app),
            what="the active relay caught up",
        )
        assert third.active != fourth.active
    stored = stored_events(pg_app)
    messages = consume(config, len(stored))
    assert len(messages) == len(stored)  # graceful hand-overs: no duplicates at all
    assert_complete_and_ordered(messages, pg_app)


def test_from_republishes_from_a_sequence(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    pg_app.create_plan(plan_request("a", "b", "c", "d"), actor="alice")
    with running(pg_env, config) as relay:
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    stored = stored_events(pg_app)
    start = stored[len(stored) // 2][2]
    with running(pg_env, config, start_from=start) as relay:
        wait_until(lambda: relay.position > 0 and caught_up(relay, pg_app), what="republished")
    again = [i for _, _, i in stored if i >= start]
    messages = consume(config, len(stored) + len(again))
    assert len(messages) == len(stored) + len(again)
    sequences = sorted(int(m.headers["ce_sequence"]) for m in messages)
    assert sequences == sorted([i for _, _, i in stored] + again)
    assert_complete_and_ordered(messages, pg_app)
