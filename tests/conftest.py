"""Fixtures shared by every test: applications on in-memory and PostgreSQL event stores.

Redis comes from `REDIS_URL`, else a throwaway embedded redis-server.
PostgreSQL comes from, in order: `DATABASE_URL`; a testcontainers PostgreSQL
image when `SWITCHYARD_TEST_DOCKER=1` (needs a Docker engine); else a throwaway
embedded server from the `pgserver` wheel, one per test session. Each test gets
its own schema, so tests never see each other's events.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.embedded.postgres import throwaway_server
from switchyard.adapters.embedded.redis import start_redis
from switchyard.adapters.postgres.persistence import event_store_env
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard

MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
"""The library's in-memory persistence, for unit tests."""


@pytest.fixture()
def memory_app() -> Iterator[Switchyard]:
    """An application on in-memory persistence."""
    app = bootstrap(Settings(database_url=None).with_loopback(), env=MEMORY_ENV)
    yield app
    app.close()


def _container_url() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A PostgreSQL server for the whole test session."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif os.environ.get("SWITCHYARD_TEST_DOCKER") == "1":
        yield from _container_url()
    else:
        with throwaway_server("switchyard-test-pg-") as url:
            yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for the session: REDIS_URL, else an embedded throwaway one."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with start_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture()
def pg_env(database_url: str) -> Iterator[dict[str, str]]:
    """Event-store settings on a fresh schema of the session's PostgreSQL server."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield {**event_store_env(database_url), "POSTGRES_SCHEMA": schema}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture()
def pg_app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application on a fresh schema of a real PostgreSQL server."""
    app = bootstrap(Settings(database_url=None).with_loopback(), env=pg_env)
    yield app
    app.close()
