"""The composition root: builds the service's parts from settings, or from what it is given.

`container()` builds the one `Container` a process's entry point shares (the CLI's
commands, every role, the API): the application on the event store, its pool
sized for the roles the process runs, the step executors, the Kafka servers,
schedulers, relays, and the threads that run roles side by side; it closes all
of it once. `bootstrap()` builds just the application, and `build_scheduler()`
one scheduler, for tests that give their own parts. Every dependency is a
keyword argument; the real one is built only when none is given. Nothing here
runs at import time. Only entry points (`adapters.cli`, `adapters.api`) and
tests import this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Literal

import redis
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.conninfo import make_conninfo
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine

from switchyard.adapters.embedded import postgres as embedded_postgres
from switchyard.adapters.embedded.kafka import published_address, start_kafka
from switchyard.adapters.embedded.redis import start_redis
from switchyard.adapters.metrics.registries import ProcessMetrics
from switchyard.adapters.metrics.server import serving
from switchyard.adapters.postgres.event_store import TransactionalRecorder
from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.adapters.postgres.migrate import datastore_params, migrate
from switchyard.adapters.postgres.persistence import event_store_env, store_errors
from switchyard.adapters.postgres.read_pool import ReadPool
from switchyard.adapters.postgres.read_store import current_schema, store_engine, url_engine
from switchyard.adapters.postgres.rebuild import Progress, rebuild
from switchyard.adapters.projector.config import ProjectorConfig
from switchyard.adapters.projector.consumer import Projector
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.publisher import Relay, build_relay
from switchyard.adapters.scheduler.notifiers import (
    FanOutNotifier,
    LoggingNotifier,
    RateLimitedNotifier,
    WebhookNotifier,
)
from switchyard.adapters.scheduler.process import (
    SchedulerConfig,
    SchedulerProcess,
    SystemClock,
    worker_id,
)
from switchyard.adapters.settings import Settings
from switchyard.adapters.steps import build_executors
from switchyard.adapters.steps.outbound import checked_client
from switchyard.adapters.steps.recipes import load_recipes
from switchyard.application.app import Switchyard
from switchyard.application.breakers import CircuitBreakers
from switchyard.application.metrics import NO_METER, Meter
from switchyard.application.notifications import Notifier
from switchyard.application.ports import Clock, StepExecutor, stop_aware_sleep
from switchyard.application.stages import StageRunner
from switchyard.application.worker import ActiveClaims, TaskWorker
from switchyard.domain.stage_factory import StageFactory

log = logging.getLogger(__name__)


def database_url(
    settings: Settings, keep_running: bool = False, announce: Callable[[str], None] = log.info
) -> str:
    """The configured DATABASE_URL, or else the embedded server's (started if need be).

    Starting it is announced: a command run in the wrong folder would otherwise
    work on a new, empty database there and say only that nothing is found.
    """
    if settings.database_url:
        return settings.database_url
    embedded = embedded_postgres.ensure_running(settings.data_dir, keep_running=keep_running)
    if embedded.started:
        announce(f"no DATABASE_URL: started the embedded database in {embedded.data_dir}")
    return embedded.url


def build_stage_factory(settings: Settings) -> StageFactory:
    """The stage factory from the packaged recipes, the extra recipe file and settings."""
    return StageFactory(load_recipes(settings.service_types_file), settings.health_check_layer())


def bootstrap(
    settings: Settings | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stage_factory: StageFactory | None = None,
) -> Switchyard:
    """Build the application; `env` overrides where events are stored (tests pass POPO)."""
    settings = settings or Settings()
    if env is None:
        env = event_store_env(
            database_url(settings),
            settings.db_pool_size,
            settings.db_connect_timeout,
            settings.create_tables,
        )
    factory = stage_factory or build_stage_factory(settings)
    with store_errors():
        app = Switchyard(
            env,
            stage_factory=factory,
            conflict_retries=settings.conflict_retries,
            outbound=settings.outbound_policy(),
        )
    if isinstance(app.recorder, TransactionalRecorder):
        window, most = settings.group_commit_window_ms, settings.group_commit_max_saves
        app.recorder.configure_group_commit(window, most)
    return app


def scheduler_config(settings: Settings) -> SchedulerConfig:
    """The scheduler's timings and size from the settings."""
    return SchedulerConfig(
        workers=settings.workers,
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_seconds=settings.poll_seconds,
        grace_seconds=settings.grace_seconds,
    )


def build_breakers(settings: Settings, meter: Meter = NO_METER) -> CircuitBreakers:
    """The circuit breakers per target, with the settings' threshold and open period."""
    return CircuitBreakers(settings.breaker_failures, settings.breaker_open_seconds, meter=meter)


def build_notifier(settings: Settings, meter: Meter = NO_METER) -> Notifier:
    """The log, plus a rate-limited webhook when SWITCHYARD_WEBHOOK_URL is set."""
    logged = LoggingNotifier()
    if not settings.webhook_url:
        return logged
    webhook = WebhookNotifier(settings.webhook_url, settings.call_timeout_seconds)
    limited = RateLimitedNotifier(
        webhook, settings.notify_limit, settings.notify_window_seconds, meter=meter
    )
    return FanOutNotifier([logged, limited])


def build_scheduler(
    app: Switchyard,
    executors: Mapping[str, StepExecutor],
    config: SchedulerConfig,
    stop: threading.Event,
    *,
    owner: str | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
    breakers: CircuitBreakers | None = None,
    notifier: Notifier | None = None,
    meter: Meter = NO_METER,
) -> SchedulerProcess:
    """A scheduler process on the application's event store, with these step executors.

    Breakers, notifier and the quiet-wait limit come from `settings` (else the
    environment) unless given; `meter` hears what the stages, breakers, notifier
    and worker do.
    """
    settings = settings or Settings()
    stages = StageRunner(
        executors,
        sleep=stop_aware_sleep(stop),
        breakers=breakers or build_breakers(settings, meter),
        max_quiet_waits=settings.breaker_max_waits,
        meter=meter,
    )
    recorder = app.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        raise TypeError("the scheduler needs the PostgreSQL event store")
    leases = PostgresLeases(recorder.datastore, recorder.channel_name)
    claims = ActiveClaims()
    worker = TaskWorker(
        app=app,
        leases=leases,
        stages=stages,
        clock=clock or SystemClock(),
        owner=owner or worker_id(),
        claims=claims,
        notifier=notifier or build_notifier(settings, meter),
        stopping=stop.is_set,
        meter=meter,
    )
    return SchedulerProcess(worker, leases, claims, config, stop)


@contextmanager
def step_executors(settings: Settings, stop: threading.Event) -> Iterator[dict[str, StepExecutor]]:
    """The step executors on REDIS_URL (or a private Redis) and an HTTP client whose every
    connection the outbound policy checks (OUTBOUND_ALLOW); closed after."""
    with ExitStack() as stack:
        url = settings.redis_url
        if not url:
            url = stack.enter_context(start_redis(settings.data_dir / "redis")).url
            log.info("no REDIS_URL: started a private Redis at %s", url)
        # No client-side retries: the scheduler's retry policies and breakers decide.
        client = redis.Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_timeout=settings.call_timeout_seconds,
            socket_connect_timeout=settings.call_timeout_seconds,
        )
        stack.callback(client.close)
        policy = settings.outbound_policy()
        http = stack.enter_context(checked_client(policy, settings.call_timeout_seconds))
        yield build_executors(client, http, sleep=stop_aware_sleep(stop))


@contextmanager
def kafka_servers(settings: Settings) -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS, or a private memory-only broker's address (stopped after).

    The private broker's address is published in the data dir while it runs, for
    `switchyard tail` and other commands on the same data dir.
    """
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers
        return
    with (
        start_kafka(settings.data_dir / "kafka") as broker,
        published_address(settings.data_dir, broker.bootstrap_servers),
    ):
        log.info(
            "no KAFKA_BOOTSTRAP_SERVERS: started a private broker at %s", broker.bootstrap_servers
        )
        yield broker.bootstrap_servers


@dataclass(frozen=True)
class Roles:
    """Which roles a process runs: they decide how many database connections it needs."""

    scheduler: bool = False
    relay: bool = False
    display: bool = False
    api: bool = False


API_CONNECTIONS = 16
"""The connections the HTTP API queries and commands on at once; requests beyond wait for
one (a pool that overflowed would open and close a connection per request)."""


def pool_size(settings: Settings, roles: Roles) -> int:
    """The event store's pool: SWITCHYARD_DB_POOL_SIZE, or more if the roles need more.

    A scheduler needs a connection per worker thread, its dispatcher's and its
    heartbeat's; a relay one for its position and the heartbeats it publishes
    (its lock and LISTEN have a connection of their own); a live display one; the API
    `API_CONNECTIONS`. The engines on the event store and the read tables get as many.
    """
    needed = settings.workers + 2 if roles.scheduler else 0
    needed += int(roles.relay) + int(roles.display) + (API_CONNECTIONS if roles.api else 0)
    return max(settings.db_pool_size, needed)


API_READ_CONNECTIONS = 8
"""The connections the HTTP API's event loop reads on at once (each is held one round
trip, so a few serve many clients)."""


MetricsPort = Literal["scheduler_metrics_port", "relay_metrics_port", "projector_metrics_port"]
"""The settings that name a role's metrics port."""


class Container:
    """One process's parts, built once from the settings and closed once (see the module)."""

    def __init__(
        self,
        settings: Settings,
        app: Switchyard,
        stop: threading.Event,
        stack: ExitStack,
        connections: int,
    ) -> None:
        self.settings = settings
        self.connections = connections
        self.app = app
        self.stop = stop
        self._stack = stack
        self._executors: Mapping[str, StepExecutor] | None = None
        self._servers: str | None = None
        self._read_engine: Engine | None = None
        self._store_engine: Engine | None = None
        self._metrics: ProcessMetrics | None = None

    def metrics(self) -> ProcessMetrics:
        """The process's metrics: one registry for every role it runs."""
        if self._metrics is None:
            self._metrics = ProcessMetrics()
        return self._metrics

    def serve_metrics(self, port_setting: MetricsPort) -> str:
        """Serve the process's metrics on SWITCHYARD_METRICS_HOST and the port that setting
        names (0: a free one) until the container closes; the URL."""
        port = getattr(self.settings, port_setting)
        variable = f"SWITCHYARD_{port_setting.upper()}"
        registry = self.metrics().registry
        host = self.settings.metrics_host
        return self._stack.enter_context(serving(registry, host, port, variable))

    def executors(self) -> Mapping[str, StepExecutor]:
        """The step executors on REDIS_URL, or a private Redis (opened on first use)."""
        if self._executors is None:
            self._executors = self._stack.enter_context(step_executors(self.settings, self.stop))
        return self._executors

    def kafka_servers(self) -> str:
        """KAFKA_BOOTSTRAP_SERVERS, or a private broker's address (started on first use)."""
        if self._servers is None:
            self._servers = self._stack.enter_context(kafka_servers(self.settings))
        return self._servers

    def store_engine(self) -> Engine:
        """An engine on the event store's database and schema."""
        if self._store_engine is None:
            datastore = self._recorder().datastore
            self._store_engine = engine = store_engine(datastore, self.connections)
            self._stack.callback(engine.dispose)
        return self._store_engine

    def read_engine(self) -> Engine:
        """An engine on the read tables: READ_DATABASE_URL (migrated on first use, unless
        SWITCHYARD_CREATE_TABLES=false), else the event store's database and schema."""
        url = self.settings.read_database_url
        if url is None:
            return self.store_engine()
        if self._read_engine is None:
            self._read_engine = engine = url_engine(url, self.connections)
            self._stack.callback(engine.dispose)
            if self.settings.create_tables:
                migrate(url, current_schema(engine))
        return self._read_engine

    def read_pool(self, size: int) -> ReadPool:
        """A pool of up to `size` connections on the read tables (as `read_engine` reaches
        them) for queries on an event loop; it opens on that loop (`async with`)."""
        url = self.settings.read_database_url
        if url is not None:
            self.read_engine()  # migrated on first use
            return ReadPool(url, size)
        datastore = self._recorder().datastore
        return ReadPool(make_conninfo(**datastore_params(datastore)), size, datastore.schema)

    def store_apart(self) -> Engine | None:
        """The event store's engine when the read tables are in another database, else None
        (the read engine reaches the relay's marks too)."""
        return None if self.settings.read_database_url is None else self.store_engine()

    def rebuild_read_tables(self, progress: Progress | None = None) -> int:
        """Rebuild the read tables from the event store and swap them in; the last sequence."""
        recorder = self._recorder()
        engine = self.read_engine()
        schema = current_schema(engine)
        return rebuild(engine, schema, recorder, self.app.mapper.transcoder, progress)

    def _recorder(self) -> PostgresApplicationRecorder:
        recorder = self.app.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            raise TypeError("the read tables need the PostgreSQL event store")
        return recorder

    def projector(self, config: ProjectorConfig | None = None) -> Projector:
        """A projector of the event topic into the read tables; `run()` it."""
        config = config or ProjectorConfig.from_settings(self.settings, self.kafka_servers())
        self.metrics().projector(self.read_engine(), config.topic, self.store_apart())
        return Projector(self.read_engine(), config, self.stop)

    def scheduler(self, config: SchedulerConfig | None = None) -> SchedulerProcess:
        """A scheduler on the application, with the step executors; `run()` it."""
        config = config or scheduler_config(self.settings)
        meter = self.metrics().scheduler(self.store_engine())
        return build_scheduler(
            self.app, self.executors(), config, self.stop, settings=self.settings, meter=meter
        )

    def relay(self, config: RelayConfig | None = None, start_from: int | None = None) -> Relay:
        """A relay on the application's event store; `run()` it."""
        config = config or RelayConfig.from_settings(self.settings, self.kafka_servers())
        self.metrics().relay(self.app, self.store_engine())
        return build_relay(self.app, config, self.stop, start_from)

    def in_thread(
        self, name: str, run: Callable[[], object], join_seconds: float
    ) -> threading.Thread:
        """Run a role on a daemon thread; on close, `stop` is set and the thread joined."""
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()

        def join() -> None:
            self.stop.set()
            thread.join(join_seconds)

        self._stack.callback(join)
        return thread


@contextmanager
def container(
    settings: Settings | None = None,
    *,
    roles: Roles = Roles(),
    stop: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
    schema: str | None = None,
    announce: Callable[[str], None] = log.info,
) -> Iterator[Container]:
    """The process's container; on the way out `stop` is set and everything is closed.

    `env` replaces the event-store settings (tests pass theirs); `schema` keeps
    the events and switchyard's tables in a schema of their own (the demo's).
    """
    settings = settings or Settings()
    if env is None:
        env = event_store_env(
            database_url(settings, announce=announce),
            pool_size(settings, roles),
            settings.db_connect_timeout,
            settings.create_tables,
        )
    if schema is not None:
        env = {**env, "POSTGRES_SCHEMA": schema}
    stop = stop or threading.Event()
    with ExitStack() as stack:
        app = bootstrap(settings, env=env)
        stack.callback(app.close)
        stack.callback(stop.set)  # last before the application closes (the stack is LIFO)
        yield Container(settings, app, stop, stack, pool_size(settings, roles))
