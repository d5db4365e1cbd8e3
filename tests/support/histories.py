"""Recorded event histories (`tests/fixtures/histories/`): reading them, and what they must say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from switchyard.domain.plan import Plan
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks

HISTORIES = Path(__file__).resolve().parents[1] / "fixtures" / "histories"
"""Where the recorded histories are."""


def summary(aggregate: Any) -> dict[str, Any]:
    """What a replayed aggregate must still say: its type, version and key state."""
    common = {"type": type(aggregate).__name__, "version": aggregate.version}
    if isinstance(aggregate, Task):
        return {
            **common,
            "status": str(aggregate.status),
            "attempt": aggregate.attempt,
            "completed": [[o.index, o.name, dict(o.result)] for o in aggregate.completed],
            "stages": [s.to_data() for s in aggregate.stages],
            "failure": aggregate.failure.to_data() if aggregate.failure else None,
            "failed_stage": aggregate.failed_stage,
            "fence": aggregate.fence,
            "owner": aggregate.owner,
            "message": aggregate.message,
        }
    if isinstance(aggregate, Plan):
        return {
            **common,
            "name": aggregate.name,
            "max_concurrency": aggregate.max_concurrency,
            "task_ids": [str(t) for t in aggregate.task_ids],
            "tenant_ids": list(aggregate.tenant_ids),
        }
    assert isinstance(aggregate, TenantTasks)
    task_ids = [str(t) for t in aggregate.task_ids]
    return {**common, "tenant_id": aggregate.tenant_id, "task_ids": task_ids}


def history_files() -> list[Path]:
    """Every recorded history."""
    return sorted(HISTORIES.glob("*.json"))


def stored_events(stream: dict[str, Any]) -> list[StoredEvent]:
    """A recorded stream's events, as the event store holds them."""
    return [
        StoredEvent(
            originator_id=UUID(stream["originator_id"]),
            originator_version=record["originator_version"],
            topic=record["topic"],
            state=json.dumps(record["state"]).encode(),
        )
        for record in stream["events"]
    ]
