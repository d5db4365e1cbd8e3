"""The relay: publishes every stored event to Kafka, in notification order, at least once.

One relay per event store is active (it holds `RelayLock`); the others stand by
and retry. The active one reads the notification log after its position, sends
a batch (message key = aggregate id, so each aggregate keeps its order on one
partition), waits for the broker's acknowledgement of all of it, and only then
records the batch's last id as its position. It wakes on NOTIFY, else polls.
Notification ids may have gaps (rolled-back inserts): it never waits for one.

The asyncio part is the producer; the sync event-store library runs in threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from eventsourcing.persistence import Notification, PersistenceError, Transcoder
from eventsourcing.postgres import PostgresApplicationRecorder

from adapters.cloudevents_format import to_record
from adapters.relay_store import RelayLock, RelayPositions
from adapters.settings import Settings

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.25
"""The first pause after the broker refused; it doubles up to the configured maximum."""


@dataclass(frozen=True)
class RelayConfig:
    """Where the relay publishes and how it paces itself."""

    bootstrap_servers: str
    topic: str = "switchyard.events"
    partitions: int = 3
    replication_factor: int = 1
    batch_size: int = 500
    poll_seconds: float = 1.0
    standby_seconds: float = 2.0
    max_backoff_seconds: float = 30.0
    linger_ms: int = 5
    request_timeout_ms: int = 30_000

    @classmethod
    def from_settings(cls, settings: Settings, bootstrap_servers: str) -> RelayConfig:
        """The relay's configuration from the settings, on the given broker."""
        return cls(
            bootstrap_servers=bootstrap_servers,
            topic=settings.kafka_topic,
            partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            standby_seconds=settings.relay_standby_seconds,
            max_backoff_seconds=settings.relay_max_backoff_seconds,
            linger_ms=settings.kafka_linger_ms,
            request_timeout_ms=settings.kafka_request_timeout_ms,
        )


class Relay:
    """Follows one event store's notification log and publishes it to one topic."""

    def __init__(
        self,
        recorder: PostgresApplicationRecorder,
        transcoder: Transcoder,
        config: RelayConfig,
        stop: threading.Event,
        start_from: int | None = None,
    ) -> None:
        self._recorder = recorder
        self._transcoder = transcoder
        self._config = config
        self._stop = stop
        self._start_from = start_from
        self._positions = RelayPositions(recorder.datastore)
        self._lock = RelayLock(recorder.datastore, recorder.channel_name, self._positions)
        self._position = 0
        self._backoff = FIRST_BACKOFF_SECONDS
        self._outage = False

    @property
    def active(self) -> bool:
        """Whether this relay holds the lock and so is the one publishing."""
        return self._lock.held

    @property
    def position(self) -> int:
        """The last notification id this relay had acknowledged by the broker."""
        return self._position

    def run(self) -> None:
        """Stand by, publish while active, until `stop` is set."""
        asyncio.run(self._run())

    async def _run(self) -> None:
        await asyncio.to_thread(self._positions.create_table)
        while not self._stop.is_set():
            try:
                if await asyncio.to_thread(self._lock.try_acquire):
                    await self._publish_while_active()
                    continue
            except (psycopg.Error, PersistenceError) as exc:
                log.warning("relay: event store unavailable (%s); standing by", exc)
            finally:
                self._lock.release()
            await self._pause(self._config.standby_seconds)

    async def _publish_while_active(self) -> None:
        if self._start_from is not None:
            await asyncio.to_thread(self._lock.write_position, max(self._start_from - 1, 0))
            log.info("relay: republishing from sequence %d", self._start_from)
            self._start_from = None
        self._position = await asyncio.to_thread(self._positions.read)
        log.info("relay: active, publishing after sequence %d", self._position)
        while not self._stop.is_set():
            try:
                await self._publish_session()
            except KafkaError as exc:
                if not self._outage:
                    log.warning("relay: broker unavailable (%r); retrying with backoff", exc)
                    self._outage = True
                await self._pause(self._backoff)
                self._backoff = min(self._backoff * 2, self._config.max_backoff_seconds)

    async def _publish_session(self) -> None:
        """Make sure the topic exists, then publish with one producer until stopped."""
        if await self._ensure_topic() and self._position > 0:
            # The topic is gone behind our position (a memory-only broker started anew):
            # re-derive it from the store.
            log.warning(
                "relay: topic %s was missing behind sequence %d; republishing from the start",
                self._config.topic,
                self._position,
            )
            await asyncio.to_thread(self._lock.write_position, 0)
            self._position = 0
        producer = AIOKafkaProducer(
            bootstrap_servers=self._config.bootstrap_servers,
            acks="all",
            enable_idempotence=False,  # tansu's memory store refuses InitProducerId
            linger_ms=self._config.linger_ms,
            request_timeout_ms=self._config.request_timeout_ms,
        )
        try:
            await producer.start()
            while not self._stop.is_set():
                published = await self._publish_batch(producer)
                if published < self._config.batch_size:
                    await asyncio.to_thread(self._lock.wait, self._config.poll_seconds)
        finally:
            await producer.stop()

    async def _publish_batch(self, producer: AIOKafkaProducer) -> int:
        """Publish the next batch after the position; record it once acknowledged."""
        notifications: Sequence[Notification] = await asyncio.to_thread(
            self._recorder.select_notifications,
            self._position,
            self._config.batch_size,
            inclusive_of_start=False,
        )
        if notifications:
            futures = []
            for notification in notifications:
                record = to_record(notification, self._transcoder)
                futures.append(
                    await producer.send(
                        self._config.topic, record.value, key=record.key, headers=record.headers
                    )
                )
            results = await asyncio.gather(*futures, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise failed[0]
            last = notifications[-1].id
            await asyncio.to_thread(self._lock.write_position, last)
            self._position = last
        if self._outage:
            log.info("relay: broker reachable again, at sequence %d", self._position)
            self._outage = False
        self._backoff = FIRST_BACKOFF_SECONDS
        return len(notifications)

    async def _ensure_topic(self) -> bool:
        """Create the topic if it is missing; whether it had to."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._config.bootstrap_servers,
            request_timeout_ms=self._config.request_timeout_ms,
        )
        try:
            await admin.start()
            if self._config.topic in await admin.list_topics():
                return False
            topic = NewTopic(
                self._config.topic, self._config.partitions, self._config.replication_factor
            )
            response = await admin.create_topics([topic])
            for _, code, message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(message)
            log.info("relay: created topic %s", self._config.topic)
            return True
        finally:
            await admin.close()

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if asked to stop."""
        await asyncio.to_thread(self._stop.wait, seconds)


def build_relay(
    recorder: object,
    transcoder: Transcoder,
    config: RelayConfig,
    stop: threading.Event,
    start_from: int | None = None,
) -> Relay:
    """A relay on the application's event store, which must be PostgreSQL."""
    if not isinstance(recorder, PostgresApplicationRecorder):
        raise TypeError("the relay needs the PostgreSQL event store")
    return Relay(recorder, transcoder, config, stop, start_from)


@contextmanager
def running_in_thread(
    relay: Relay, stop: threading.Event, join_seconds: float, daemon: bool = False
) -> Iterator[threading.Thread]:
    """Run the relay on a thread while the block runs; then set `stop` and join it."""
    thread = threading.Thread(target=relay.run, name="relay", daemon=daemon)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=join_seconds)
