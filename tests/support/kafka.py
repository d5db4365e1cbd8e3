"""Helpers for relay tests: run relays, read the topic back, check it against the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from eventsourcing.persistence import StoredEvent

from switchyard.adapters.bootstrap import container
from switchyard.adapters.kafka.format import KafkaRecord
from switchyard.adapters.relay.attribution import AggregateId, Attribution, first_events
from switchyard.adapters.relay.config import RelayConfig
from switchyard.adapters.relay.publisher import Relay
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.domain.task import Task
from switchyard.domain.tenant import tenant_tasks_id
from tests.support.builders import plan_request, run_stages

TENANTS = 30
"""Tenants in the test plan: with their stages, several hundred events."""


@dataclass(frozen=True)
class Message:
    """One consumed message: where it was, and its CloudEvents headers as text."""

    partition: int
    offset: int
    headers: dict[str, str]
    value: bytes = b""

    @property
    def event(self) -> tuple[str, int]:
        """The (aggregate id, version) it carries: the dedup key."""
        return self.headers["ce_aggregateid"], int(self.headers["ce_aggregateversion"])


@contextmanager
def running(
    pg_env: dict[str, str], config: RelayConfig, start_from: int | None = None
) -> Iterator[Relay]:
    """A relay in a container of its own (as in its own process), in a thread until exit."""
    with container(Settings(database_url=None), env=pg_env) as parts:
        relay = parts.relay(config, start_from)
        thread = parts.in_thread("relay", relay.run, join_seconds=30)
        yield relay
    assert not thread.is_alive(), "the relay did not stop"


def run_plan(app: Switchyard, tenants: int, prefix: str = "t") -> None:
    """A plan of `tenants` tasks, and a worker completing three stages of each."""
    names = (f"{prefix}{i:03}" for i in range(tenants))
    created = app.create_plan(plan_request(*names), actor="alice")
    for task_id in created.task_ids:
        run_stages(app, task_id, 3)


def write_events(app: Switchyard) -> None:
    """A plan of TENANTS tasks through three stages: several hundred events."""
    run_plan(app, TENANTS)


def caught_up(relay: Relay, app: Switchyard) -> bool:
    """Whether the relay has published up to the last stored event."""
    return relay.position == (app.recorder.max_notification_id() or 0)


def consume(
    config: RelayConfig, count: int, timeout: float = 30.0, topic: str | None = None
) -> list[Message]:
    """The event topic's messages (or `topic`'s) from the beginning, until `count` have come
    (or the deadline)."""

    async def read() -> list[Message]:
        consumer = AIOKafkaConsumer(
            topic or config.topic,
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
                        Message(
                            r.partition,
                            r.offset,
                            {k: v.decode() for k, v in r.headers},
                            r.value or b"",
                        )
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


def unattributed(messages: Iterable[dict[str, str]], app: Switchyard) -> list[str]:
    """The messages (given by their headers) that lack their aggregate's tenant or plan, or
    name another: a Task's both, a TenantTasks' tenant, a Plan's plan."""
    tasks: dict[str, Task] = {}

    def attributed(message: dict[str, str]) -> bool:
        kind, aggregate_id = message["ce_aggregatetype"], message["ce_aggregateid"]
        if kind == "Task":
            if aggregate_id not in tasks:
                tasks[aggregate_id] = app.get_task(UUID(aggregate_id))
            task = tasks[aggregate_id]
            found = (message.get("ce_tenantid"), message.get("ce_planid"))
            return found == (task.tenant_id, str(task.plan_id))
        if kind == "TenantTasks":
            return str(tenant_tasks_id(message.get("ce_tenantid", ""))) == aggregate_id
        return message.get("ce_planid") == aggregate_id

    return [f"{m['ce_type']} {m['ce_id']}" for m in messages if not attributed(m)]


class CountingFirstEvents:
    """The store's first events, counting the calls and the aggregates asked for."""

    def __init__(self, app: Switchyard) -> None:
        self._read = first_events(app.recorder)
        self.calls: list[int] = []

    def __call__(self, aggregate_ids: Sequence[AggregateId]) -> Sequence[StoredEvent]:
        self.calls.append(len(aggregate_ids))
        return self._read(aggregate_ids)


def headers(record: KafkaRecord) -> dict[str, str]:
    """The record's headers as text."""
    return {name: value.decode() for name, value in record.headers}


def read_in_batches(
    app: Switchyard, attribution: Attribution, size: int, after: int = 0
) -> list[KafkaRecord]:
    """The log after `after` as records, built a batch of `size` at a time."""
    records: list[KafkaRecord] = []
    while page := app.recorder.select_notifications(after, size, inclusive_of_start=False):
        records += attribution.records(page)
        after = page[-1].id
    return records
