"""A chunk's events, stored by the chunk encoder, are stored as the app's mapper stores them."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import Mapper

from switchyard.application.app import Switchyard
from switchyard.application.chunk_encoding import ChunkEncoder
from switchyard.application.tracing import TracingMapper, trace_context
from switchyard.domain.plan import Plan
from switchyard.domain.tenant import TenantTasks
from switchyard.domain.values import FailureInfo, FailureType
from tests.support.builders import NOW, new_task

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def events_of_every_shape() -> list[Any]:
    """Events with strings, numbers, None, UUIDs, lists of them, value objects and enums."""
    task = new_task(position=2**40)
    task.queue("ops")
    task.claim("worker-1", 1, NOW)
    index = task.begin_stage(1)
    task.complete_stage(index, {"previous": {"version": "1.0", "keys": ["k", None, 3.5]}}, 1, NOW)
    index = task.begin_stage(1)
    task.fail_stage(index, FailureInfo(FailureType.IO, 'tab\there "quoted" é'), 1)
    plan = Plan(
        id=uuid4(),
        name="rollout",
        max_concurrency=3,
        task_ids=[task.id, uuid4()],
        tenant_ids=["acme", "beta"],
        actor="ops",
        idempotency_key=None,
        fingerprint="f" * 64,
    )
    tenant_tasks = TenantTasks("acme")
    tenant_tasks.assign(task.id, plan.id)
    return [*plan.collect_events(), *task.collect_events(), *tenant_tasks.collect_events()]


@pytest.mark.parametrize("traceparent", [None, TRACEPARENT])
def test_events_are_stored_as_the_mapper_stores_them(
    memory_app: Switchyard, traceparent: str | None
) -> None:
    events = events_of_every_shape()
    with trace_context(traceparent):
        encoder = ChunkEncoder(memory_app.mapper)
        stored = [encoder.stored(e) for e in events]
        assert stored == [memory_app.mapper.to_stored_event(e) for e in events]


def test_a_compressed_store_gets_the_same_compressed_bytes(memory_app: Switchyard) -> None:
    mapper: Mapper[Any] = TracingMapper(memory_app.mapper.transcoder, compressor=ZlibCompressor())
    events = events_of_every_shape()
    encoder = ChunkEncoder(mapper)
    assert [encoder.stored(e) for e in events] == [mapper.to_stored_event(e) for e in events]


def test_a_value_shared_by_events_is_written_the_same_in_each(memory_app: Switchyard) -> None:
    task = new_task()
    task.queue("ops")
    created, queued = task.collect_events()
    encoder = ChunkEncoder(memory_app.mapper)
    first, again = encoder.stored(created), encoder.stored(created)
    assert first == again == memory_app.mapper.to_stored_event(created)
    assert encoder.stored(queued) == memory_app.mapper.to_stored_event(queued)
