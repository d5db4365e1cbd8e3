"""Recorded event histories (JSON fixtures of real runs) still replay through today's aggregates.

The fixtures are static files. If a change can no longer read one, add an upcaster
(or, for a moved class, an old topic in `switchyard.application.topics`) rather
than re-recording. The first four were recorded when the aggregates lived in
top-level `domain` modules, so their topics are the old paths; later ones name
`switchyard.domain`. To record a new scenario (existing files are never rewritten):
`PYTHONPATH=. .venv/bin/python tests/unit/test_recorded_histories.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from tests.support.histories import HISTORIES, history_files, stored_events, summary

MEMORY_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture(scope="module")
def app() -> Iterator[Switchyard]:
    """An application, for its mapper (the transcodings of today's code)."""
    app = bootstrap(Settings(database_url=None).with_loopback(), env=MEMORY_ENV)
    yield app
    app.close()


def replay(app: Switchyard, stream: dict[str, Any]) -> Any:
    """Decode a recorded stream with the application's mapper and replay it."""
    aggregate = None
    for stored in stored_events(stream):
        aggregate = app.mapper.to_domain_event(stored).mutate(aggregate)
    return aggregate


def test_there_are_recorded_histories() -> None:
    names = {p.stem for p in history_files()}
    assert {"task_completed", "task_failed_retried", "task_rolled_back", "plan_commands"} <= names


@pytest.mark.parametrize("path", history_files(), ids=lambda p: p.stem)
def test_recorded_history_replays(app: Switchyard, path: Path) -> None:
    recorded = json.loads(path.read_text(encoding="utf-8"))
    assert recorded["streams"]
    for stream in recorded["streams"]:
        aggregate = replay(app, stream)
        assert aggregate is not None
        assert str(aggregate.id) == stream["originator_id"]
        assert summary(aggregate) == stream["expected"]


@pytest.mark.parametrize("path", history_files(), ids=lambda p: p.stem)
def test_recorded_event_types_are_still_known(app: Switchyard, path: Path) -> None:
    recorded = json.loads(path.read_text(encoding="utf-8"))
    for stream in recorded["streams"]:
        names = [
            type(replay(app, {**stream, "events": stream["events"][: i + 1]})).__name__
            for i in range(len(stream["events"]))
        ]
        assert set(names) == {stream["expected"]["type"]}


# -- recording (run by hand, see the module docstring) ------------------------


def record(app: Switchyard, aggregate_ids: list[UUID]) -> dict[str, Any]:
    """The stored records of some aggregates, as a JSON-ready history."""
    streams = []
    for aggregate_id in aggregate_ids:
        events = [
            {
                "originator_version": s.originator_version,
                "topic": s.topic,
                "state": json.loads(s.state),
            }
            for s in app.recorder.select_events(aggregate_id)
        ]
        aggregate = app.repository.get(aggregate_id)
        streams.append(
            {"originator_id": str(aggregate_id), "events": events, "expected": summary(aggregate)}
        )
    return {"streams": streams}


def scenarios() -> dict[str, Callable[[Switchyard], list[UUID]]]:
    """Each history to record: a function that plays it and names the streams to keep."""
    from tests.support.builders import plan_request, run_stages, undo_stages

    def task_completed(app: Switchyard) -> list[UUID]:
        created = app.create_plan(plan_request("acme"), "alice")
        run_stages(app, created.task_ids[0], 3)
        return [created.task_ids[0]]

    def task_failed_retried(app: Switchyard) -> list[UUID]:
        created = app.create_plan(plan_request("globex"), "alice")
        task_id = created.task_ids[0]
        run_stages(app, task_id, 1, fail_next=True)
        app.retry_task(task_id, "bob", from_checkpoint=True, reason="fixed the route")
        run_stages(app, task_id, 2)
        return [task_id]

    def task_rolled_back(app: Switchyard) -> list[UUID]:
        created = app.create_plan(plan_request("initech"), "alice")
        task_id = created.task_ids[0]
        run_stages(app, task_id, 3)
        app.rollback_task(task_id, "bob", "bad release")
        undo_stages(app, task_id, 1, fail_next=True)
        app.rollback_task(task_id, "bob")
        undo_stages(app, task_id, 2)
        return [task_id]

    def plan_commands(app: Switchyard) -> list[UUID]:
        created = app.create_plan(plan_request("umbrella", "hooli"), "alice", "key-1")
        app.pause_plan(created.plan_id, "bob", "freeze")
        app.resume_plan(created.plan_id, "bob")
        app.cancel_plan(created.plan_id, "carol", "abandoned")
        app.retry_plan(created.plan_id, "carol")
        app.cancel_plan(created.plan_id, "carol")
        app.rollback_plan(created.plan_id, "dave")
        tenant_tasks = app._tenant_tasks("umbrella")
        assert tenant_tasks is not None
        return [created.plan_id, created.task_ids[0], tenant_tasks.id]

    def superseded_in_package(app: Switchyard) -> list[UUID]:
        older = app.create_plan(plan_request("hooli"), "alice").task_ids[0]
        request = {**plan_request("hooli"), "supersede": True}
        newer = app.create_plan(request, "carol").task_ids[0]
        run_stages(app, newer, 3)
        tenant_tasks = app._tenant_tasks("hooli")
        assert tenant_tasks is not None
        return [older, newer, tenant_tasks.id]

    return {
        "superseded_in_package": superseded_in_package,
        "task_completed": task_completed,
        "task_failed_retried": task_failed_retried,
        "task_rolled_back": task_rolled_back,
        "plan_commands": plan_commands,
    }


def regenerate() -> None:
    """Record each scenario that has no history yet into the fixtures folder."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for name, play in scenarios().items():
        if (HISTORIES / f"{name}.json").exists():
            continue
        app = bootstrap(Settings(database_url=None).with_loopback(), env=MEMORY_ENV)
        history = record(app, play(app))
        app.close()
        text = json.dumps(history, indent=1, sort_keys=True) + "\n"
        (HISTORIES / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    regenerate()
