"""The relay: publishes every stored event to Kafka, in notification order, at least once.

One relay per event store is active (it holds `RelayLock`); the others stand by
and retry. The active one reads the notification log after its position, sends
a batch (message key = aggregate id, so each aggregate keeps its order on one
partition), waits for the broker's acknowledgement of all of it, and only then
records the batch's last id as its position. One batch is in flight at a time,
so a failed batch is never overtaken by the next; the next one is read from the
store while the broker acknowledges, by a process of its own
(`adapters.relay.reader`). It wakes on NOTIFY, else polls.
Notification ids may have gaps (rolled-back inserts): it never waits for one.

A topic that vanished (a memory-only broker restarted, an operator deleted it)
is re-derived from the store: see `adapters.relay.topic`. While active, the
relay also carries the schedulers' heartbeats to their own topic
(`adapters.relay.heartbeats`).

The asyncio part is the producer; the sync event-store library runs in threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from eventsourcing.application import Application
from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresApplicationRecorder
from structlog.contextvars import bind_contextvars, unbind_contextvars

from switchyard.adapters.kafka.format import KafkaRecord
from switchyard.adapters.logs import LIFECYCLE
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.heartbeats import HeartbeatFeed
from switchyard.adapters.relay.reader import RecordReader
from switchyard.adapters.relay.store import PartitionMark, RelayLock, RelayPositions
from switchyard.adapters.relay.topic import AckedOffsets, Topics

log = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.25
"""The first pause after the broker refused; it doubles up to the configured maximum."""


class Relay:
    """Follows one event store's notification log and publishes it to one topic."""

    def __init__(
        self,
        recorder: PostgresApplicationRecorder,
        reader: RecordReader,
        config: RelayConfig,
        stop: threading.Event,
        start_from: int | None = None,
    ) -> None:
        self._recorder = recorder
        self._reader = reader
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
        try:
            asyncio.run(self._run())
        finally:
            self._reader.close()

    async def _run(self) -> None:
        await asyncio.to_thread(self._positions.check_table)
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
            self._position = max(self._start_from - 1, 0)
            await asyncio.to_thread(self._lock.write_position, self._position, self._config.topic)
            log.info("relay: republishing from sequence %d", self._start_from)
            self._start_from = None
        else:
            self._position = await asyncio.to_thread(self._positions.read)
        log.info("relay: active, publishing after sequence %d", self._position, extra=LIFECYCLE)
        while not self._stop.is_set():
            try:
                await self._publish_session()
            except BrokenProcessPool:
                log.warning("relay: its reader process died; starting another")
                self._reader.close()
            except KafkaError as exc:
                if not self._outage:
                    log.warning("relay: broker unavailable (%r); retrying with backoff", exc)
                    self._outage = True
                await self._pause(self._backoff)
                self._backoff = min(self._backoff * 2, self._config.max_backoff_seconds)

    async def _publish_session(self) -> None:
        """Make sure the topics exist, then publish with one producer until stopped."""
        config = self._config
        topics = Topics(
            config.bootstrap_servers,
            (config.topic, config.heartbeat_topic),
            config.partitions,
            config.replication_factor,
            config.request_timeout_ms,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=config.bootstrap_servers,
            acks="all",
            enable_idempotence=False,  # tansu's memory store refuses InitProducerId
            linger_ms=config.linger_ms,
            compression_type=config.compression,
            max_batch_size=config.max_batch_bytes,
            request_timeout_ms=config.request_timeout_ms,
        )
        try:
            await topics.start()
            await producer.start()
            await self._publish_until_stopped(producer, topics)
        finally:
            await producer.stop()
            await topics.close()

    async def _publish_until_stopped(self, producer: AIOKafkaProducer, topics: Topics) -> None:
        """Send batch after batch, reading the next while the broker acknowledges one.

        The topic is looked at before each batch and every few seconds when idle;
        returns, for a fresh session, when it had vanished and was created again.
        """
        acked = AckedOffsets()
        duties = _Duties(self._config, HeartbeatFeed(self._recorder.datastore))
        batch = await self._reader.read(self._position)
        while not self._stop.is_set():
            if not batch.records:
                unbind_contextvars("sequence")
                if duties.topic_check_due() and await self._topic_missing(topics):
                    return
                await duties.publish_heartbeats(producer)
                self._recovered()
                await asyncio.to_thread(self._lock.wait, self._config.poll_seconds)
                batch = await self._reader.read(self._position)
                continue
            bind_contextvars(sequence=batch.last)  # on the lines logged while it is sent
            upcoming = asyncio.ensure_future(self._reader.read(batch.last))
            try:
                if await self._topic_missing(topics):
                    await _discard(upcoming)
                    return
                await duties.publish_heartbeats(producer)
                acknowledged = await send_all(producer, self._config.topic, batch.records)
            except BaseException:
                await _discard(upcoming)
                raise
            if acked.went_back(acknowledged):
                # Empty it of what was sent since, and start over with a new producer
                # (this one's metadata describes the topic that is gone).
                await _discard(upcoming)
                await topics.recreate(self._config.topic)
                await self._republish_if_behind("was created anew under the relay")
                return
            marks = partition_marks(batch.records, acknowledged)
            await asyncio.to_thread(
                self._lock.write_position, batch.last, self._config.topic, marks
            )
            self._position = batch.last
            self._recovered()
            batch = await upcoming

    async def _topic_missing(self, topics: Topics) -> bool:
        """Whether the topic had vanished (it is created again, to be filled from the start)."""
        if self._config.topic not in await topics.ensure():
            return False
        await self._republish_if_behind("was missing")
        return True

    async def _republish_if_behind(self, what: str) -> None:
        """Start again from the first event, the topic having lost what was published."""
        if self._position == 0:
            return
        log.warning(
            "relay: topic %s %s behind sequence %d; republishing from the start",
            self._config.topic,
            what,
            self._position,
        )
        await asyncio.to_thread(self._lock.write_position, 0, self._config.topic)
        self._position = 0

    def _recovered(self) -> None:
        """The broker answers: end the outage, if there was one, and reset the backoff."""
        if self._outage:
            log.info("relay: broker reachable again, at sequence %d", self._position)
            self._outage = False
        self._backoff = FIRST_BACKOFF_SECONDS

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if asked to stop."""
        await asyncio.to_thread(self._stop.wait, seconds)


class _Duties:
    """What an active relay does every few seconds besides publishing."""

    def __init__(self, config: RelayConfig, feed: HeartbeatFeed) -> None:
        self._config = config
        self._feed = feed
        self._next_check = 0.0
        self._next_beat = 0.0

    def topic_check_due(self) -> bool:
        """Whether it is time to look for the topic again (at once in a new session)."""
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + self._config.topic_check_seconds
        return True

    async def publish_heartbeats(self, producer: AIOKafkaProducer) -> None:
        """Publish the schedulers' new heartbeats, when due."""
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self._config.heartbeat_seconds
        records = await asyncio.to_thread(self._feed.new_records)
        if records:
            await send_all(producer, self._config.heartbeat_topic, records)


async def _discard(upcoming: asyncio.Future[Any]) -> None:
    """Cancel a read that will not be used, and wait for it to end."""
    upcoming.cancel()
    await asyncio.gather(upcoming, return_exceptions=True)


async def send_all(
    producer: AIOKafkaProducer, topic: str, records: Sequence[KafkaRecord]
) -> list[RecordMetadata]:
    """Send the records and wait for every acknowledgement; raise the first failure."""
    futures = [await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in records]
    results = await asyncio.gather(*futures, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, RecordMetadata)]


def partition_marks(
    records: Sequence[KafkaRecord], acknowledged: Sequence[RecordMetadata]
) -> list[PartitionMark]:
    """The last acknowledged record of each partition, in partition order."""
    last: dict[int, tuple[KafkaRecord, RecordMetadata]] = {}
    for record, metadata in zip(records, acknowledged, strict=True):
        last[metadata.partition] = (record, metadata)
    marks = []
    for partition, (record, metadata) in sorted(last.items()):
        headers = {name: raw.decode() for name, raw in record.headers}
        marks.append(
            PartitionMark(
                partition,
                metadata.offset,
                int(headers["ce_sequence"]),
                datetime.fromisoformat(headers["ce_time"]),
            )
        )
    return marks


def build_relay(
    app: Application[Any],
    config: RelayConfig,
    stop: threading.Event,
    start_from: int | None = None,
) -> Relay:
    """A relay on the application's event store, which must be PostgreSQL."""
    if not isinstance(app.recorder, PostgresApplicationRecorder):
        raise TypeError("the relay needs the PostgreSQL event store")
    reader = RecordReader(app.env, config.batch_size)
    return Relay(app.recorder, reader, config, stop, start_from)
