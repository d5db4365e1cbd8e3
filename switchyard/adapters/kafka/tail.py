"""A monitoring consumer of the relay's topic: the logic behind `switchyard tail`.

It is also the README's worked example for teams writing their own consumer.
It reads in its own consumer group, drops duplicates (the relay delivers at
least once, and `relay --from` republishes) by (`ce_aggregateid`,
`ce_aggregateversion`), and filters by tenant, plan and type: every message
of a task carries `ce_tenantid` and `ce_planid`, a tenant's task list its
`ce_tenantid`, and a plan's messages its id as `ce_planid`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

POLL_MS = 200
"""How long one fetch waits for messages; also how soon a stop request is seen."""


@dataclass(frozen=True)
class TailEvent:
    """One consumed event: where it was on the topic, its headers as text, its fields."""

    partition: int
    offset: int
    headers: dict[str, str]
    data: dict[str, Any]
    tenant_id: str | None
    plan_id: str | None

    @property
    def sequence(self) -> int:
        """The global notification id (`ce_sequence`)."""
        return int(self.headers.get("ce_sequence", "0"))

    @property
    def type(self) -> str:
        """The event type (`ce_type`, e.g. `switchyard.task.StageCompleted`)."""
        return self.headers.get("ce_type", "")

    @property
    def key(self) -> tuple[str, int]:
        """The dedup key: (aggregate id, aggregate version)."""
        return self.headers.get("ce_aggregateid", ""), int(
            self.headers.get("ce_aggregateversion", "0")
        )

    def as_json(self) -> dict[str, Any]:
        """The event as one JSON object: position, headers and value."""
        return {
            "partition": self.partition,
            "offset": self.offset,
            "headers": self.headers,
            "value": self.data,
        }


@dataclass(frozen=True)
class TailFilter:
    """Which events to show: every given criterion must match."""

    tenant: str | None = None
    plan: str | None = None
    type: str | None = None

    def matches(self, event: TailEvent) -> bool:
        """Whether the event passes: same tenant, same plan, type equal or a dotted suffix."""
        if self.tenant is not None and event.tenant_id != self.tenant:
            return False
        if self.plan is not None and event.plan_id != self.plan:
            return False
        return self.type is None or event.type == self.type or event.type.endswith(f".{self.type}")


@dataclass(frozen=True)
class TailConfig:
    """Where to read, as which group, from where, and when to stop."""

    bootstrap_servers: str
    topic: str
    group: str
    from_beginning: bool = False
    limit: int | None = None
    idle_seconds: float | None = None
    filter: TailFilter = TailFilter()


class Versions:
    """Remembers the highest version seen of each aggregate, to drop redeliveries."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}

    def first_time(self, aggregate_id: str, version: int) -> bool:
        """Whether this version is new; each aggregate's events arrive in version order."""
        if version <= self._versions.get(aggregate_id, 0):
            return False
        self._versions[aggregate_id] = version
        return True


class _Rewind(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks each partition to its beginning the first time it is assigned."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._done: set[TopicPartition] = set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: offsets are committed by the consumer itself."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Rewind the partitions not rewound yet."""
        new = assigned - self._done
        if new:
            await self._consumer.seek_to_beginning(*new)
            self._done |= new


def tail(config: TailConfig, show: Callable[[TailEvent], None], stop: threading.Event) -> int:
    """Show each new matching event until stopped, the limit, or the idle time; the count."""
    return asyncio.run(_tail(config, show, stop))


async def _tail(
    config: TailConfig, show: Callable[[TailEvent], None], stop: threading.Event
) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers,
        group_id=config.group,
        auto_offset_reset="earliest" if config.from_beginning else "latest",
    )
    await consumer.start()
    try:
        listener = _Rewind(consumer) if config.from_beginning else None
        consumer.subscribe([config.topic], listener=listener)
        return await _consume(consumer, config, show, stop)
    finally:
        await consumer.stop()


async def _consume(
    consumer: AIOKafkaConsumer,
    config: TailConfig,
    show: Callable[[TailEvent], None],
    stop: threading.Event,
) -> int:
    versions = Versions()
    shown = 0
    quiet_since = time.monotonic()
    assigned = False
    while not stop.is_set() and (config.limit is None or shown < config.limit):
        batches = await consumer.getmany(timeout_ms=POLL_MS)
        if not assigned and consumer.assignment():
            assigned = True
            quiet_since = time.monotonic()  # joining the group is not idleness
        if batches:
            quiet_since = time.monotonic()
        elif (
            config.idle_seconds is not None
            and time.monotonic() - quiet_since >= config.idle_seconds
        ):
            break
        for records in batches.values():
            for record in records:
                event = _event(
                    record.partition, record.offset, record.headers, record.value, versions
                )
                if event is None or not config.filter.matches(event):
                    continue
                show(event)
                shown += 1
                if config.limit is not None and shown >= config.limit:
                    return shown
    return shown


def _event(
    partition: int,
    offset: int,
    raw_headers: Any,
    value: bytes | None,
    versions: Versions,
) -> TailEvent | None:
    """The event of one message, or None if it is a duplicate."""
    headers = {key: bytes(raw).decode() for key, raw in raw_headers}
    tenant, plan = headers.get("ce_tenantid"), headers.get("ce_planid")
    event = TailEvent(partition, offset, headers, {}, tenant, plan)
    if not versions.first_time(*event.key):
        return None  # before parsing the value: a republish repeats the whole topic
    return dataclasses.replace(event, data=json.loads(value) if value else {})
