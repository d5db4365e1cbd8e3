"""Recording a new plan chunk by chunk, in one transaction, on a store that can.

A plan of tens of thousands of tenants is too big to build, encode and insert
at once: memory would grow with it. `planning.plan_chunks` builds its events
a chunk of tenants at a time; here each chunk becomes stored events (encoded
by a `ChunkEncoder`, each value the chunk's events share once) and scheduling
rows, handed to a `PlanStore`, which writes every chunk in one transaction and
makes them visible together, or none of them. The tenants' task lists are
read a chunk at a time too, in one query per chunk.

A store that is no `PlanStore` (the in-memory one) gets the whole plan in one
ordinary save instead.

Python's cycle collector is paused while a plan is built (`collector_paused`):
a plan makes hundreds of thousands of short-lived objects, none in a cycle
that reference counting would not free, and the collector, run every 700
allocations and walking the request each time, took 40 % of the command.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.application import project_aggregate
from eventsourcing.persistence import Mapper, StoredEvent

from switchyard.application.built_ahead import built_ahead
from switchyard.application.chunk_encoding import ChunkEncoder
from switchyard.application.planning import PlanChunk
from switchyard.application.scheduling import PlanRow, TaskRow, scheduling_rows
from switchyard.domain.tenant import TenantTasks, tenant_tasks_id


@dataclass(frozen=True)
class StoreChunk:
    """One chunk of a plan: its stored events, in order, and its scheduling rows.

    `new_tasks` are the rows of the plan's own tasks, which no queue row has yet;
    `scheduling` holds the others (the plan's row, the tasks it supersedes).
    """

    events: Sequence[StoredEvent]
    scheduling: Sequence[PlanRow | TaskRow]
    new_tasks: Sequence[TaskRow] = ()


StoreChunks = Iterable[StoreChunk]
"""A plan's chunks, in order, as a `PlanStore` writes them."""


@runtime_checkable
class PlanStore(Protocol):
    """An event store that records a plan in chunks and reads many aggregates at once."""

    def insert_in_chunks(self, chunks: StoreChunks) -> int:
        """Write every chunk's events, in order, and scheduling rows in one transaction.

        All or nothing: an optimistic-concurrency conflict raises the library's
        `IntegrityError` and nothing is written. Returns the last event's
        notification id.
        """
        ...

    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        """Every stored event of the given aggregates, each aggregate's in version order."""
        ...


def record_chunks(chunks: Iterable[PlanChunk], store: PlanStore, mapper: Mapper[UUID]) -> int:
    """Encode and write the plan's chunks, the next built while the store writes the last
    (`built_ahead`); the last notification id."""
    return store.insert_in_chunks(built_ahead(store_chunk(chunk, mapper) for chunk in chunks))


def store_chunk(chunk: PlanChunk, mapper: Mapper[UUID]) -> StoreChunk:
    """One chunk of the plan as stored events and scheduling rows."""
    encoder = ChunkEncoder(mapper)
    events = [encoder.stored_record(record) for record in chunk.events]
    events += (encoder.stored(event) for a in chunk.saved for event in a.collect_events())
    return StoreChunk(
        events=events,
        scheduling=scheduling_rows(chunk.saved),
        new_tasks=chunk.new_tasks,
    )


def tenant_tasks_of(
    tenant_ids: Sequence[str], store: PlanStore, mapper: Mapper[UUID]
) -> dict[str, TenantTasks]:
    """The task lists of those tenants that have one, read in one query."""
    tenants = {tenant_tasks_id(tenant_id): tenant_id for tenant_id in tenant_ids}
    events = defaultdict(list)
    for stored in store.select_events_of(list(tenants)):
        events[stored.originator_id].append(mapper.to_domain_event(stored))
    found: dict[str, TenantTasks] = {}
    for aggregate_id, history in events.items():
        tenant_tasks = project_aggregate(None, history)
        if isinstance(tenant_tasks, TenantTasks):
            found[tenants[UUID(str(aggregate_id))]] = tenant_tasks
    return found


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector inside (if it was running), and restart it after."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()
