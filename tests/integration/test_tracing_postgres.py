"""A command's traceparent round-trips through the real PostgreSQL event store."""

from __future__ import annotations

import json

from switchyard.adapters.kafka.format import to_record
from switchyard.application.app import Switchyard
from switchyard.application.tracing import METADATA, trace_context
from tests.support.builders import plan_request

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_traceparent_is_stored_read_back_and_published(pg_app: Switchyard) -> None:
    with trace_context(TRACEPARENT):
        created = pg_app.create_plan(plan_request("acme"), "alice")
    pg_app.pause_task(created.task_ids[0], "bob")
    notifications = pg_app.recorder.select_notifications(0, 100, inclusive_of_start=False)
    stored = [json.loads(n.state).get(METADATA) for n in notifications]
    assert stored[: len(stored) - 2] == [{"traceparent": TRACEPARENT}] * (len(stored) - 2)
    assert stored[-2:] == [None, None]
    task = pg_app.get_task(created.task_ids[0])
    assert task.version == 4
    assert all(METADATA not in vars(e) for e in pg_app.events.get(task.id))
    headers = [dict(to_record(n, pg_app.mapper.transcoder).headers) for n in notifications]
    assert headers[0]["traceparent"] == headers[0]["ce_traceparent"] == TRACEPARENT.encode()
    assert "traceparent" not in headers[-1]
