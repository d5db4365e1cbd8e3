"""A PostgreSQL store written by earlier versions still loads: the recorded histories'
stored events (old topics included) are inserted as they were, then read back."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from switchyard.application.app import Switchyard
from tests.support.histories import history_files, stored_events, summary


@pytest.mark.parametrize("path", history_files(), ids=lambda p: p.stem)
def test_a_store_of_recorded_events_loads(pg_app: Switchyard, path: Path) -> None:
    streams = json.loads(path.read_text(encoding="utf-8"))["streams"]
    for stream in streams:
        pg_app.recorder.insert_events(stored_events(stream))
    for stream in streams:
        aggregate = pg_app.repository.get(UUID(stream["originator_id"]))
        assert summary(aggregate) == stream["expected"]
    task_streams = [s for s in streams if s["expected"]["type"] == "Task"]
    for stream in task_streams:
        history = pg_app.task_history(UUID(stream["originator_id"]))
        assert len(history) == len(stream["events"])
