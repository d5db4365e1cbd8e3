"""The active relay carries the schedulers' heartbeats to the heartbeat topic.

A heartbeat is the queue row's lease renewal (never an event): each new one is
published once, keyed by task, matching the published heartbeat schemas; tasks
nobody works on send none, and the event store gains nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema

from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.adapters.relay.config import RelayConfig
from switchyard.application.app import Switchyard
from switchyard.application.ports import Progress
from tests.support.builders import plan_request
from tests.support.kafka import caught_up, consume, running
from tests.support.waiting import wait_until

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def schema(name: str) -> dict[str, Any]:
    """A published schema, by file name."""
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def test_each_new_heartbeat_is_published_once_on_the_heartbeat_topic(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    quick = replace(config, heartbeat_topic=f"{config.topic}.heartbeats", heartbeat_seconds=0.1)
    created = pg_app.create_plan(plan_request("acme", "globex"), actor="ci")
    recorder: Any = pg_app.recorder
    leases = PostgresLeases(recorder.datastore, recorder.channel_name)
    try:
        claim = leases.claim("worker-a", ttl_seconds=30)
        assert claim is not None and claim.task_id == created.task_ids[0]
        events = recorder.max_notification_id()
        with running(pg_env, quick) as relay:
            wait_until(lambda: caught_up(relay, pg_app), 30, "the relay caught up")
            first = consume(quick, 1, topic=quick.heartbeat_topic)
            assert len(first) == 1
            progress = Progress(current_stage="HealthCheck", completed_stages=2, total_stages=3)
            assert leases.renew(claim, "worker-a", 30, progress)
            # Several heartbeat rounds: a third message would be a repeat.
            messages = consume(quick, 3, timeout=3.0, topic=quick.heartbeat_topic)
        assert recorder.max_notification_id() == events, "a heartbeat was stored as an event"
    finally:
        leases.close()
    assert len(messages) == 2
    values = [json.loads(m.value) for m in messages]
    task_id = str(claim.task_id)
    assert [v["task_id"] for v in values] == [task_id, task_id]
    assert values[0]["completed_stages"] == 0 and values[0]["current_stage"] is None
    assert values[1]["completed_stages"] == 2 and values[1]["current_stage"] == "HealthCheck"
    assert values[1]["owner"] == "worker-a" and values[1]["fence"] == claim.fence
    assert values[1]["total_stages"] == 3 and values[1]["tenant_id"] == "acme"
    assert values[0]["heartbeat_at"] < values[1]["heartbeat_at"]
    for message, value in zip(messages, values, strict=True):
        assert message.headers["ce_type"] == "switchyard.task.Heartbeat"
        assert message.headers["ce_aggregateid"] == task_id
        assert "ce_sequence" not in message.headers
        jsonschema.validate(value, schema("switchyard.task.Heartbeat.json"))
        jsonschema.validate(message.headers, schema("switchyard.heartbeats.headers.json"))
