"""Fixtures for integration tests: scheduler processes, a Kafka-protocol broker, relays."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.bootstrap import bootstrap
from adapters.embedded_kafka import start_kafka
from adapters.relay_config import RelayConfig
from adapters.settings import Settings
from application.app import Switchyard
from tests.processes import Schedulers
from tests.schedulers import probe_factory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `integration` (they need real servers)."""
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


@pytest.fixture()
def app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application whose tasks run the probe's three stages."""
    application = bootstrap(Settings(database_url=None), env=pg_env, stage_factory=probe_factory())
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
