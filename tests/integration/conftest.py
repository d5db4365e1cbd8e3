"""Fixtures for integration tests: scheduler processes, a Kafka-protocol broker, relays,
and a simulated fleet on Redis with the real step executors."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from switchyard.adapters.bootstrap import bootstrap, step_executors
from switchyard.adapters.demo.fleet import Fleet
from switchyard.adapters.embedded.kafka import start_kafka
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from tests.support.dev import Dev, running_dev
from tests.support.processes import Schedulers
from tests.support.schedulers import probe_factory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `integration` (they need real servers)."""
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


@pytest.fixture()
def app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application whose tasks run the probe's three stages."""
    application = bootstrap(
        Settings(database_url=None).with_loopback(), env=pg_env, stage_factory=probe_factory()
    )
    yield application
    application.close()


@pytest.fixture()
def schedulers(pg_env: dict[str, str], tmp_path: Path) -> Iterator[Schedulers]:
    """Scheduler processes for the test, killed at the end."""
    found = Schedulers(pg_env, tmp_path)
    yield found
    found.close()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for the session: KAFKA_BOOTSTRAP_SERVERS, else an embedded tansu."""
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


@pytest.fixture()
def channel() -> str:
    """A broadcast channel of the test's own, so tests never hear each other."""
    return f"switchyard:route-updates:{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def fleet(redis_url: str, channel: str) -> Iterator[Fleet]:
    """Gateway instances that switch version when a broadcast reaches them."""
    with Fleet(redis_url, channel=channel, initial_version="1.0.0") as running:
        yield running


@pytest.fixture()
def store(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis client to check what the steps wrote."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture()
def executors(redis_url: str) -> Iterator[Any]:
    """The real step executors on the test Redis."""
    with step_executors(Settings(redis_url=redis_url).with_loopback(), threading.Event()) as found:
        yield found


@pytest.fixture()
def dev(tmp_path: Path) -> Iterator[Dev]:
    """`switchyard dev --api-port 0` on embedded servers, started until it prints its API."""
    with running_dev(tmp_path) as running:
        yield running
