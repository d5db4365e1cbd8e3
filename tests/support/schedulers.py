"""Helpers for scheduler tests: a probe step executor, a running scheduler, and checks of
the runs its tasks' events show."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from switchyard.adapters.bootstrap import build_scheduler
from switchyard.adapters.scheduler.process import SchedulerConfig
from switchyard.adapters.settings import Settings
from switchyard.adapters.steps.recipes import parse_recipes
from switchyard.application.app import Switchyard
from switchyard.application.breakers import CircuitBreakers
from switchyard.application.notifications import Notifier
from switchyard.application.ports import StepContext, StepExecutor, StepFailed
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.values import FailureType, StepDefinition

STAGES = ("One", "Two", "Three")

PROBE_RECIPES = {
    "probe": {
        "stages": [
            {"name": name, "steps": [{"kind": "probe", "params": {"stage": name}}]}
            for name in STAGES
        ]
    }
}
"""A service type whose three stages each run one `probe` step."""


def probe_factory() -> StageFactory:
    """A stage factory that knows only the probe service type."""
    return StageFactory(parse_recipes(PROBE_RECIPES, "tests"))


@dataclass
class Probe:
    """A step executor at the boundary: records runs and undos, can hold or fail a stage."""

    runs: list[tuple[str, str]] = field(default_factory=list)
    undos: list[tuple[str, str]] = field(default_factory=list)
    holds: dict[str, threading.Event] = field(default_factory=dict)
    entered: dict[str, threading.Event] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    undo_failures: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, stage: str) -> threading.Event:
        """Make runs of `stage` wait until the returned event is set."""
        self.holds[stage] = threading.Event()
        self.entered[stage] = threading.Event()
        return self.holds[stage]

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Record the run; wait if held; fail if a failure is planned."""
        stage = str(step.params["stage"])
        if stage in self.holds:
            self.entered[stage].set()
            self.holds[stage].wait(30)
        key = (context.tenant_id, stage)
        with self.lock:
            self.runs.append(key)
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                raise StepFailed(FailureType.FATAL, f"planned failure of {stage}")
        return {"stage": stage, "fence": context.fence}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Record the undo; fail if a failure is planned."""
        key = (context.tenant_id, str(recorded["stage"]))
        with self.lock:
            self.undos.append(key)
            if self.undo_failures.get(key, 0) > 0:
                self.undo_failures[key] -= 1
                raise StepFailed(FailureType.IO, f"planned undo failure of {key[1]}")


FAST = SchedulerConfig(
    workers=8, lease_seconds=30, heartbeat_seconds=0.5, poll_seconds=0.2, grace_seconds=10
)


@contextmanager
def running_scheduler(
    app: Switchyard,
    executors: Mapping[str, StepExecutor],
    config: SchedulerConfig = FAST,
    owner: str | None = None,
    *,
    settings: Settings | None = None,
    breakers: CircuitBreakers | None = None,
    notifier: Notifier | None = None,
) -> Iterator[threading.Event]:
    """Run a scheduler in a thread for the duration of the block; yields its stop event."""
    stop = threading.Event()
    process = build_scheduler(
        app,
        executors,
        config,
        stop,
        owner=owner,
        settings=settings,
        breakers=breakers,
        notifier=notifier,
    )
    thread = threading.Thread(target=process.run, name="scheduler", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(config.grace_seconds + 10)


@dataclass(frozen=True)
class Run:
    """One run of a task, from its Started (or Claimed) event to where it stopped."""

    task_id: UUID
    tenant_id: str
    position: int
    fence: int
    start: datetime
    end: datetime


def runs_of(app: Switchyard, task_id: UUID) -> list[Run]:
    """The task's runs, from its events: each start and the boundary it stopped at."""
    task = app.get_task(task_id)
    found: list[Run] = []
    opened: tuple[int, datetime] | None = None
    for event in app.events.get(task_id):
        name = type(event).__name__
        if name in ("Started", "Claimed") and opened is None:
            opened = (event.fence, event.timestamp)
        elif name in ("Completed", "Failed", "Paused", "Cancelled", "RolledBack", "RollbackFailed"):
            if opened is not None:
                found.append(
                    Run(
                        task.id,
                        task.tenant_id,
                        task.position,
                        opened[0],
                        opened[1],
                        event.timestamp,
                    )
                )
            opened = None
    return found


def max_overlap(runs: list[Run]) -> int:
    """The largest number of runs in progress at one moment."""
    edges = sorted([(r.start, 1) for r in runs] + [(r.end, -1) for r in runs])
    most = current = 0
    for _, change in edges:
        current += change
        most = max(most, current)
    return most


def event_names(app: Switchyard, task_id: UUID) -> list[str]:
    """The task's event type names, oldest first."""
    return [type(event).__name__ for event in app.events.get(task_id)]
