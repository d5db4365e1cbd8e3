"""The relay against a broker that stalls or restarts (an embedded tansu of the test's own).

A stalled broker (SIGSTOP) keeps its topic: the relay retries with backoff, logs
the outage once (one warning carrying the broker's error, however many attempts
fail), and catches up. A restarted one (memory-only) has lost the
topic: the relay notices, whether idle or mid-run, and republishes from the
store, so the new topic holds every event once, in order, and nothing stray.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError

from switchyard.adapters.embedded.kafka import EmbeddedKafka, start_kafka
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.publisher import FIRST_BACKOFF_SECONDS, Relay
from switchyard.application.app import Switchyard
from tests.support.builders import plan_request, run_stages
from tests.support.kafka import (
    assert_complete_and_ordered,
    caught_up,
    consume,
    run_plan,
    running,
    stored_events,
)
from tests.support.waiting import wait_until

PUBLISHER = "switchyard.adapters.relay.publisher"
"""The relay's logger."""


def outage_warnings(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The relay's warnings that carry a broker error: one per outage it reported."""
    return [
        r
        for r in records
        if r.name == PUBLISHER
        and r.levelno == logging.WARNING
        and any(isinstance(arg, KafkaError) for arg in r.args or ())
    ]


def failed_twice(relay: Relay) -> bool:
    """Whether the relay failed to reach the broker at least twice in a row.

    Its pause doubles at each failure from FIRST_BACKOFF_SECONDS and is reset once
    the broker answers; the relay counts its failures nowhere public.
    """
    return relay._backoff >= 4 * FIRST_BACKOFF_SECONDS


@dataclass
class Broker:
    """A broker of the test's own, which the test can stall and restart."""

    folder: Path
    server: EmbeddedKafka

    @property
    def bootstrap_servers(self) -> str:
        """Where the broker listens (the same address across restarts)."""
        return self.server.bootstrap_servers

    def restart(self) -> None:
        """Kill the broker and start a new one on the same port: it has forgotten everything."""
        port = int(self.bootstrap_servers.rpartition(":")[2])
        self.server.process.kill()
        self.server.process.wait(10)
        self.server = start_kafka(self.folder, port=port)

    def stall(self) -> None:
        """Freeze the broker: connections stay open, nothing is answered."""
        os.kill(self.server.process.pid, signal.SIGSTOP)

    def wake(self) -> None:
        """Let a stalled broker go on."""
        os.kill(self.server.process.pid, signal.SIGCONT)


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker for this test only (it gets stalled and restarted)."""
    own = Broker(tmp_path / "kafka", start_kafka(tmp_path / "kafka"))
    try:
        yield own
    finally:
        own.wake()
        own.server.stop()


@pytest.fixture()
def quick(config: RelayConfig, broker: Broker) -> RelayConfig:
    """The relay's configuration on the test's broker, quick to notice a fault."""
    return replace(
        config,
        bootstrap_servers=broker.bootstrap_servers,
        request_timeout_ms=1_500,
        topic_check_seconds=0.3,
    )


def test_a_stalled_broker_is_retried_logged_once_and_caught_up_with(
    pg_app: Switchyard,
    pg_env: dict[str, str],
    quick: RelayConfig,
    broker: Broker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert quick.max_backoff_seconds >= 4 * FIRST_BACKOFF_SECONDS
    caplog.set_level(logging.INFO, logger=PUBLISHER)
    with running(pg_env, quick) as relay:
        run_plan(pg_app, 5, "before")
        wait_until(lambda: caught_up(relay, pg_app), 30, "the relay caught up")
        broker.stall()
        try:
            run_plan(pg_app, 5, "during")
            wait_until(lambda: failed_twice(relay), 30, "the relay failing twice on the outage")
            assert not caught_up(relay, pg_app)
        finally:
            broker.wake()
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up after the outage")
    stored = stored_events(pg_app)
    assert_complete_and_ordered(consume(quick, len(stored)), pg_app)
    records = [r for r in caplog.records if r.name == PUBLISHER]
    outages = outage_warnings(records)
    assert len(outages) == 1, [r.msg for r in records]
    # After the outage's warning the relay, still active, reports only that the broker
    # answers again.
    after = records[records.index(outages[0]) + 1 :]
    assert [r.levelno for r in after] == [logging.INFO], [r.msg for r in after]


def test_a_broker_restarted_while_the_relay_idles_gets_the_topic_republished(
    pg_app: Switchyard, pg_env: dict[str, str], quick: RelayConfig, broker: Broker
) -> None:
    with running(pg_env, quick) as relay:
        run_plan(pg_app, 5)
        wait_until(lambda: caught_up(relay, pg_app), 30, "the relay caught up")
        broker.restart()
        last = pg_app.recorder.max_notification_id() or 0
        wait_until(lambda: relay.position < last, 30, "the relay noticing the lost topic")
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up again")
    stored = stored_events(pg_app)
    messages = consume(quick, len(stored))
    assert len(messages) == len(stored)
    assert_complete_and_ordered(messages, pg_app)


def test_a_broker_restarted_during_a_run_ends_with_a_clean_complete_topic(
    pg_app: Switchyard, pg_env: dict[str, str], quick: RelayConfig, broker: Broker
) -> None:
    created = pg_app.create_plan(plan_request(*(f"t{i}" for i in range(8))), actor="ci")
    with running(pg_env, quick) as relay:
        for task_id in created.task_ids:
            run_stages(pg_app, task_id, 1)
        wait_until(lambda: caught_up(relay, pg_app), 30, "the relay caught up")
        broker.restart()
        for task_id in created.task_ids:  # later versions of aggregates already published
            run_stages(pg_app, task_id, 2)
        wait_until(lambda: caught_up(relay, pg_app), 60, "the relay caught up again")
    stored = stored_events(pg_app)
    # A message sent to the new topic before the relay noticed would come before the
    # republished earlier versions of its aggregate: the order check would fail.
    assert_complete_and_ordered(consume(quick, len(stored)), pg_app)
