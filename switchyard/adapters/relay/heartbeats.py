"""The schedulers' progress heartbeats, carried to Kafka on a topic of their own.

A heartbeat is not an event: a worker writes it onto its task's queue row (lease
renewal, current stage, completed stages; see `adapters.postgres.leases`), never into the
event store. The active relay reads the leased rows every few seconds and
publishes each new heartbeat to the heartbeat topic (`switchyard.heartbeats` by
default), keyed by task id, in the CloudEvents Kafka binding with type
`switchyard.task.Heartbeat`. They carry no `ce_sequence`: they are a liveness and
progress signal, at most once, and cannot be re-derived from the store. Keeping
them off the event topic keeps that topic a pure, re-derivable copy of the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresDatastore

from switchyard.adapters.kafka.format import SOURCE, KafkaRecord
from switchyard.adapters.postgres import scheduler_tables

HEARTBEAT_TYPE = f"{SOURCE}.task.Heartbeat"
"""The `ce_type` of a heartbeat message."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The start of Unix time, for the microseconds in a heartbeat's `ce_id`."""

_LEASED = """
SELECT task_id, plan_id, tenant_id, status, lease_owner, fence, current_stage,
       completed_stages, total_stages, heartbeat_at
FROM {schema}.{tasks}
WHERE lease_owner IS NOT NULL AND heartbeat_at IS NOT NULL
ORDER BY heartbeat_at
"""


class HeartbeatFeed:
    """The heartbeats written since the last look, once each."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore
        self._leased = scheduler_tables.prepared(_LEASED, datastore.schema or "public")
        self._seen: dict[UUID, datetime] = {}

    def new_records(self) -> list[KafkaRecord]:
        """A record for each task whose heartbeat changed since the last call."""
        try:
            with self._datastore.transaction(commit=False) as curs:
                curs.execute(self._leased)
                rows = curs.fetchall()
        except psycopg.errors.UndefinedTable:
            return []  # no scheduler has created its tables yet
        fresh = [row for row in rows if self._seen.get(row["task_id"]) != row["heartbeat_at"]]
        self._seen = {row["task_id"]: row["heartbeat_at"] for row in rows}
        return [heartbeat_record(row) for row in fresh]


def heartbeat_record(row: dict[str, Any]) -> KafkaRecord:
    """The Kafka message of one queue row's heartbeat."""
    task_id = str(row["task_id"])
    at: datetime = row["heartbeat_at"].astimezone(UTC)
    micros = (at - EPOCH) // timedelta(microseconds=1)
    value = {
        "task_id": task_id,
        "plan_id": str(row["plan_id"]),
        "tenant_id": row["tenant_id"],
        "owner": row["lease_owner"],
        "fence": row["fence"],
        "status": row["status"],
        "current_stage": row["current_stage"],
        "completed_stages": row["completed_stages"],
        "total_stages": row["total_stages"],
        "heartbeat_at": at.isoformat(),
    }
    headers = {
        "ce_specversion": "1.0",
        "ce_id": f"{task_id}:heartbeat:{micros}",
        "ce_source": SOURCE,
        "ce_type": HEARTBEAT_TYPE,
        "ce_time": at.isoformat(),
        "content-type": "application/json",
        "ce_aggregateid": task_id,
        "ce_aggregatetype": "Task",
        "ce_tenantid": row["tenant_id"],
        "ce_planid": str(row["plan_id"]),
    }
    return KafkaRecord(
        key=task_id.encode(),
        value=json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(),
        headers=[(name, text.encode()) for name, text in headers.items()],
    )
