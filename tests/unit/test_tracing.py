"""A command's W3C traceparent is stored with each of its events and nowhere else."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from switchyard.application.app import Switchyard
from switchyard.application.tracing import (
    METADATA,
    current_traceparent,
    is_valid_traceparent,
    metadata_traceparent,
    trace_context,
)
from tests.support.builders import plan_request, run_stages
from tests.support.state import last_sequence, public_state

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OTHER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"

MALFORMED = {
    "upper case": TRACEPARENT.upper(),
    "all-zero trace id": f"00-{'0' * 32}-00f067aa0ba902b7-01",
    "all-zero parent id": f"00-4bf92f3577b34da6a3ce929d0e0e4736-{'0' * 16}-01",
    "short trace id": "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    "other version": "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "invalid version": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "trailing data": f"{TRACEPARENT}-extra",
    "surrounding spaces": f" {TRACEPARENT} ",
    "not hex": "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
    "no flags": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
}


def stored_traceparents(app: Switchyard, after: int = 0) -> list[str | None]:
    """The traceparent stored with each event after the given sequence, in order."""
    notifications = app.recorder.select_notifications(after, 1000, inclusive_of_start=False)
    return [metadata_traceparent(json.loads(n.state).get(METADATA)) for n in notifications]


class TestTraceparentFormat:
    def test_accepts_a_version_00_traceparent(self) -> None:
        assert is_valid_traceparent(TRACEPARENT)
        assert is_valid_traceparent(OTHER_TRACEPARENT)

    @pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
    def test_refuses_a_malformed_one(self, value: str) -> None:
        assert not is_valid_traceparent(value)


class TestTraceContext:
    def test_is_in_effect_only_inside(self) -> None:
        with trace_context(TRACEPARENT) as taken:
            assert taken == current_traceparent() == TRACEPARENT
        assert current_traceparent() is None

    def test_an_inner_context_replaces_the_outer_one_until_it_ends(self) -> None:
        with trace_context(TRACEPARENT):
            with trace_context(None):
                assert current_traceparent() is None
            assert current_traceparent() == TRACEPARENT

    def test_an_empty_traceparent_is_no_trace(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING), trace_context("") as taken:
            assert taken is None
        assert caplog.records == []

    @pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
    def test_a_malformed_one_is_ignored_with_a_warning(
        self, value: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING), trace_context(value) as taken:
            assert taken is None
            assert current_traceparent() is None
        assert [r.levelno for r in caplog.records] == [logging.WARNING]


Command = Callable[[Switchyard, UUID, UUID], Any]
"""A steering command on a plan's only task: the app, the plan id and the task id."""

STEERING: dict[str, Command] = {
    "pause task": lambda app, _, task_id: app.pause_task(task_id, "bob"),
    "pause tenant": lambda app, *_: app.pause_tenant("acme", "bob"),
    "pause plan": lambda app, plan_id, _: app.pause_plan(plan_id, "bob"),
    "cancel plan": lambda app, plan_id, _: app.cancel_plan(plan_id, "bob"),
}


class TestStoredTraceparent:
    def test_every_event_of_a_traced_create_carries_it(self, memory_app: Switchyard) -> None:
        with trace_context(TRACEPARENT):
            memory_app.create_plan(plan_request("acme", "globex"), "alice")
        stored = stored_traceparents(memory_app)
        assert len(stored) > 2
        assert set(stored) == {TRACEPARENT}

    @pytest.mark.parametrize("command", STEERING.values(), ids=STEERING.keys())
    def test_every_event_of_a_traced_steering_command_carries_it(
        self, memory_app: Switchyard, command: Command
    ) -> None:
        created = memory_app.create_plan(plan_request("acme"), "alice")
        before = last_sequence(memory_app)
        with trace_context(OTHER_TRACEPARENT):
            command(memory_app, created.plan_id, created.task_ids[0])
        assert set(stored_traceparents(memory_app)[:before]) == {None}
        assert set(stored_traceparents(memory_app, before)) == {OTHER_TRACEPARENT}

    def test_each_command_stores_only_its_own(self, memory_app: Switchyard) -> None:
        with trace_context(TRACEPARENT):
            created = memory_app.create_plan(plan_request("acme"), "alice")
        created_events = last_sequence(memory_app)
        task_id = created.task_ids[0]
        with trace_context(OTHER_TRACEPARENT):
            memory_app.pause_task(task_id, "bob")
        paused_events = last_sequence(memory_app) - created_events
        memory_app.resume_task(task_id, "carol")
        run_stages(memory_app, task_id, 1)
        stored = stored_traceparents(memory_app)
        assert stored[:created_events] == [TRACEPARENT] * created_events
        assert stored[created_events:][:paused_events] == [OTHER_TRACEPARENT] * paused_events
        assert set(stored[created_events + paused_events :]) == {None}

    def test_a_malformed_one_is_not_stored(self, memory_app: Switchyard) -> None:
        with trace_context(MALFORMED["upper case"]):
            memory_app.create_plan(plan_request("acme"), "alice")
        assert set(stored_traceparents(memory_app)) == {None}


class TestReplay:
    def test_a_traced_aggregate_replays_equal_to_the_live_one(self, memory_app: Switchyard) -> None:
        with trace_context(TRACEPARENT):
            created = memory_app.create_plan(plan_request("acme"), "alice")
        live = memory_app.get_task(created.task_ids[0])
        live.pause("bob", "window")
        with trace_context(OTHER_TRACEPARENT):
            memory_app.save(live)
        replayed = memory_app.get_task(live.id)
        assert public_state(replayed) == public_state(live)

    def test_events_read_back_have_no_metadata(self, memory_app: Switchyard) -> None:
        with trace_context(TRACEPARENT):
            created = memory_app.create_plan(plan_request("acme"), "alice")
            memory_app.pause_task(created.task_ids[0], "bob")
        events = list(memory_app.events.get(created.task_ids[0]))
        assert len(events) == 4
        assert all(METADATA not in vars(e) for e in events)
        history = memory_app.task_history(created.task_ids[0])
        assert all(METADATA not in entry.fields for entry in history)
