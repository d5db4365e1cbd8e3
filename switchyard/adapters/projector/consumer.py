"""The projector: applies the relay's topic to the read tables, batch by batch, exactly once.

It consumes in a consumer group (several projectors share the partitions) with
Kafka's auto-commit off. The source of truth for where it is lies in PostgreSQL:
each batch's rows and the next offset of each of its partitions commit in one
transaction (`adapters.postgres.read_store.apply`). On assignment it seeks each
partition to its stored next offset (the beginning if it has none). So a crash
anywhere re-reads at most the batch it was applying, and a repeat changes
nothing (events are applied by aggregate version). Offsets are also committed
to Kafka after each batch, for lag tools only, in the background (the next
batch does not wait for them); the partitions stay paused from their assignment
until the seek, so nothing is fetched from those offsets meanwhile.

A stored offset past the partition's end means the topic was created anew (the
embedded broker keeps it in memory; an operator can delete it): that partition is
read from the start. The end is the high watermark of the first fetch from the
stored offset, not a ListOffsets answer: the embedded broker answers that with the
start of the partition's last record batch, plus one, so a projector restarted
after a batch of several records would read its partitions again from the start.

A batch the database refuses is applied again after a pause, until it commits
or the projector stops. The asyncio part is the consumer; the database work
runs in a thread, on one connection kept across batches (a pool check-out would
ping the server each batch) and replaced after a failure.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from switchyard.adapters.logs import LIFECYCLE
from switchyard.adapters.postgres.read_store import (
    Consumed,
    apply,
    forget_positions,
    read_positions,
)
from switchyard.adapters.projector.config import ProjectorConfig
from switchyard.adapters.relay.topic import Topics
from switchyard.projections.apply import Applied
from switchyard.projections.events import ProjectedEvent, from_message

log = logging.getLogger(__name__)

Records = Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
"""One fetch: the records of each partition, in offset order."""


class Projector:
    """Consumes the event topic in a group and applies it to the read tables; counts the
    events it applied (`applied`) and those delivered again and skipped (`duplicates`)."""

    def __init__(
        self,
        engine: Engine,
        config: ProjectorConfig,
        stop: threading.Event,
    ) -> None:
        self._engine = engine
        self._config = config
        self._stop = stop
        self._conn: Connection | None = None
        self._unchecked: dict[TopicPartition, int] = {}
        self.applied = 0
        self.duplicates = 0

    def run(self) -> None:
        """Consume and apply until `stop` is set."""
        asyncio.run(self._run())

    async def _run(self) -> None:
        config = self._config
        while not await self._topic_ready():
            await self._pause()
            if self._stop.is_set():
                return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap_servers,
            group_id=config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5_000,
            fetch_max_wait_ms=config.fetch_wait_ms,
            request_timeout_ms=config.request_timeout_ms,
        )
        await consumer.start()
        told = _OffsetsForLagTools(consumer)
        try:
            consumer.subscribe([config.topic], listener=_SeekToStored(self, consumer))
            log.info("projector: joining group %s on topic %s", config.group, config.topic)
            while not self._stop.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=config.poll_ms, max_records=config.max_batch
                )
                await self._check_stored(consumer, fetched)
                if fetched:
                    await self._apply_until_done(fetched)
                    told.note(fetched)
        finally:
            await told.flush()
            await consumer.stop()
            self._disconnect()

    async def _topic_ready(self) -> bool:
        """Create the topic if the relay has not yet (so the group has partitions to share)."""
        config = self._config
        topics = Topics(
            config.bootstrap_servers,
            [config.topic],
            config.partitions,
            config.replication_factor,
            config.request_timeout_ms,
        )
        try:
            await topics.start()
            await topics.ensure()
            return True
        except KafkaError as exc:
            log.warning("projector: broker unavailable (%r); retrying", exc)
            return False
        finally:
            await topics.close()

    async def _apply_until_done(self, fetched: Records) -> None:
        """Apply the fetch; if the database refuses, pause and apply it again."""
        while True:
            try:
                result = await asyncio.to_thread(self.apply_records, fetched)
            except DBAPIError as exc:
                self._disconnect()
                if self._stop.is_set():
                    raise
                log.warning("projector: read tables unavailable (%s); retrying the batch", exc)
                await self._pause()
                continue
            self.applied += result.applied
            self.duplicates += result.duplicates
            return

    def apply_records(self, fetched: Records) -> Applied:
        """Apply one fetch's events and record its partitions' next offsets, in one transaction."""
        events: list[ProjectedEvent] = []
        consumed: dict[tuple[str, int], Consumed] = {}
        for tp, records in fetched.items():
            last: ProjectedEvent | None = None
            for record in records:
                event = _event(record)
                if event is not None:
                    events.append(event)
                    last = event
            consumed[(tp.topic, tp.partition)] = Consumed(
                records[-1].offset + 1,
                None if last is None else last.sequence,
                None if last is None else last.time,
            )
        if self._conn is None:
            self._conn = self._engine.connect()
        return apply(self._conn, events, consumed)

    def _disconnect(self) -> None:
        """Give the kept connection back (after a failure, a new one is checked out)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def seek_to_stored(
        self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]
    ) -> None:
        """Seek each assigned partition to its stored next offset (see the module); each
        stored offset is checked against the partition's end at its first fetch."""
        topic = self._config.topic
        consumer.pause(*assigned)  # nothing fetched from Kafka's committed offsets meanwhile
        stored = await asyncio.to_thread(read_positions, self._engine, topic)
        self._unchecked = {}
        for tp in sorted(assigned):
            at = stored.get(tp.partition)
            if at is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, at)
                self._unchecked[tp] = at
        consumer.resume(*assigned)
        partitions = sorted(tp.partition for tp in assigned)
        log.info("projector: assigned partitions %s of %s", partitions, topic, extra=LIFECYCLE)

    async def _check_stored(self, consumer: AIOKafkaConsumer, fetched: Records) -> None:
        """Read from the start each partition whose stored offset is past its end, as the
        first fetch from there tells it (the topic was created anew)."""
        if not self._unchecked:
            return
        reset = []
        assignment = consumer.assignment()
        for tp, at in list(self._unchecked.items()):
            if tp in assignment and tp not in fetched:  # else: revoked, or records came
                end = consumer.highwater(tp)
                if end is None:  # no fetch from there answered yet
                    continue
                if end < at:
                    reset.append(tp)
            del self._unchecked[tp]
        if not reset:
            return
        for tp in reset:
            await consumer.seek_to_beginning(tp)
        partitions = [tp.partition for tp in reset]
        log.warning(
            "projector: partitions %s of %s end before the stored positions "
            "(the topic was created anew); reading them from the start",
            partitions,
            self._config.topic,
        )
        await asyncio.to_thread(forget_positions, self._engine, self._config.topic, partitions)

    async def _pause(self) -> None:
        await asyncio.to_thread(self._stop.wait, self._config.retry_seconds)


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks newly assigned partitions to the positions stored with the read tables."""

    def __init__(self, projector: Projector, consumer: AIOKafkaConsumer) -> None:
        self._projector = projector
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: every applied batch's positions are already committed."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Seek to the stored positions."""
        await self._projector.seek_to_stored(self._consumer, assigned)


def _event(record: ConsumerRecord[bytes, bytes]) -> ProjectedEvent | None:
    """The event a message carries, or None (logged) for a message that is not the relay's."""
    try:
        return from_message([(k, bytes(v)) for k, v in record.headers], record.value or b"")
    except (KeyError, ValueError) as exc:
        log.warning(
            "projector: skipped message %d of partition %d: not an event (%r)",
            record.offset,
            record.partition,
            exc,
        )
        return None


class _OffsetsForLagTools:
    """The group's offsets told to Kafka too, for lag tools (PostgreSQL's are the ones
    used): in the background, one commit at a time, each of every partition's newest
    offset noted since the one before."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._noted: dict[TopicPartition, OffsetAndMetadata] = {}
        self._committing: asyncio.Task[None] | None = None

    def note(self, fetched: Records) -> None:
        """Note a batch applied; commit it unless a commit is under way (which then goes on
        with it)."""
        for tp, records in fetched.items():
            self._noted[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_noted())

    async def flush(self) -> None:
        """Wait until everything noted is committed (or failed to be)."""
        if self._committing is not None:
            await self._committing
        await self._commit_noted()

    async def _commit_noted(self) -> None:
        while self._noted:
            offsets, self._noted = self._noted, {}
            await _commit_to_kafka(self._consumer, offsets)


async def _commit_to_kafka(
    consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]
) -> None:
    """Commit the offsets to Kafka; a failure is only logged (the next commit catches up)."""
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:  # a rebalance under way; the next batch commits again
        log.debug("projector: offsets not committed to Kafka (%r)", exc)
