"""A run that records every event type, and its messages as the documented examples.

`scenario` drives an application on the library's in-memory store through the
operators' commands and the Task's worker methods, saved the way the scheduler
saves them (claim and first stage start in one save, a stage's end and the next
one's start in the next), and turns each stored event into its Kafka message
as the relay's reader does (`adapters.relay.attribution`): what the relay would send.

Each operator command runs in a trace of its own (`application.tracing`), so its
events carry a traceparent as a traced API call's would; the trace ids are
derived from the command's place in the run. `stable` then fixes what changes
from run to run (task ids, event times), so the documented examples change only
when the format does. Event times become the scenario's own clock, which the
workers' business times (`started_at`, `duration_millis`) follow too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from switchyard.adapters.kafka.format import KafkaRecord
from switchyard.adapters.relay.attribution import Attribution, first_events
from switchyard.adapters.steps.recipes import load_recipes
from switchyard.application.app import Switchyard
from switchyard.application.tracing import trace_context
from switchyard.domain.healthcheck import InstanceReport
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.task import Task
from switchyard.domain.values import FailureInfo, FailureType, StageDefinition

START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
"""When the scenario's clock starts."""

_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@dataclass(frozen=True)
class Published:
    """One message as the relay makes it, and the scenario time its event was stored."""

    record: KafkaRecord
    at: datetime


@dataclass(frozen=True)
class Message:
    """A message in readable form: key, headers and value as text and JSON."""

    key: str
    headers: dict[str, str]
    value: dict[str, Any]

    @property
    def type(self) -> str:
        """Its `ce_type`."""
        return self.headers["ce_type"]


def plan_request(name: str, *tenant_ids: str) -> dict[str, Any]:
    """A valid request for the packaged `blue-green-gateway` recipe, tenants in FIFO order."""
    tenants = [
        {
            "tenantId": tenant_id,
            "serviceType": "blue-green-gateway",
            "targetVersion": "2.5.0",
            "endpoints": [f"10.0.{n}.7:8080", f"10.0.{n}.8:8080"],
        }
        for n, tenant_id in enumerate(tenant_ids, start=1)
    ]
    return {"name": name, "maxConcurrency": 2, "tenants": tenants}


class _Run:
    """The scenario's application, clock and fencing tokens, and what it has published."""

    def __init__(self, app: Switchyard) -> None:
        self.app = app
        self.now = START
        self.fence = 0
        self.published: list[Published] = []
        self._last_id = 0
        self._attribution = Attribution(app.mapper.transcoder, first_events(app.recorder))

    def command(self, seconds: float, call: Callable[[Switchyard], Any]) -> Any:
        """After `seconds`, give an operator's command."""
        self.now += timedelta(seconds=seconds)
        with trace_context(_traceparent(len(self.published))):
            answer = call(self.app)
        self._collect()
        return answer

    def claim(self, seconds: float, task_id: UUID, owner: str) -> int:
        """After `seconds`, a worker claims the task (or takes it over); its new fence."""
        self.fence += 1
        fence = self.fence

        def start(task: Task) -> None:
            task.claim(owner, fence, self.now)
            _begin_next(task, fence)

        self._work(seconds, task_id, start)
        return fence

    def finish_stage(
        self, seconds: float, task_id: UUID, fence: int, failure: FailureInfo | None = None
    ) -> None:
        """After `seconds`, the running stage ends (the next one starts, if any)."""

        def finish(task: Task) -> None:
            index = task.current_stage
            if index is None:
                raise ValueError("no stage runs")
            if failure is not None:
                task.fail_stage(index, failure, fence)
                return
            task.complete_stage(index, _result(task.stages[index], self.now), fence, self.now)
            _begin_next(task, fence)

        self._work(seconds, task_id, finish)

    def undo_stage(
        self, seconds: float, task_id: UUID, fence: int, failure: FailureInfo | None = None
    ) -> None:
        """After `seconds`, the undo of the newest completed stage ends."""

        def undo(task: Task) -> None:
            index = task.completed[-1].index
            if failure is None:
                task.roll_back_stage(index, fence)
            else:
                task.fail_rollback(index, failure, fence)

        self._work(seconds, task_id, undo)

    def _work(self, seconds: float, task_id: UUID, step: Callable[[Task], None]) -> None:
        self.now += timedelta(seconds=seconds)
        task = self.app.get_task(task_id)
        step(task)
        self.app.save(task)
        self._collect()

    def _collect(self) -> None:
        stored = self.app.recorder.select_notifications(
            self._last_id, 1000, inclusive_of_start=False
        )
        records = self._attribution.records(stored)
        for offset, (notification, record) in enumerate(zip(stored, records, strict=True)):
            self.published.append(Published(record, self.now + timedelta(milliseconds=offset)))
            self._last_id = notification.id


def _traceparent(seed: int) -> str:
    """A sampled W3C traceparent whose ids are derived from the seed."""
    trace = uuid5(NAMESPACE_URL, f"switchyard:example:trace:{seed}").hex
    span = uuid5(NAMESPACE_URL, f"switchyard:example:span:{seed}").hex[:16]
    return f"00-{trace}-{span}-01"


def _begin_next(task: Task, fence: int) -> None:
    if task.current_stage is None and task.next_stage is not None and task.status == "RUNNING":
        task.begin_stage(fence)


def _result(stage: StageDefinition, now: datetime) -> dict[str, Any]:
    """What a stage's steps would record, shaped as each step kind does; health polls at `now`."""
    steps: list[Mapping[str, Any]] = []
    for step in stage.steps:
        if step.kind == "redis-write":
            fields = step.params["fields"]
            previous = {name: "2.4.1" if name == "version" else None for name in fields}
            steps.append({"key": step.params["key"], "previous": previous})
        elif step.kind == "redis-publish":
            steps.append({"receivers": 2})
        elif step.kind == "health-check":
            instances = [str(i) for i in step.params["endpoints"]]
            expected = str(step.params["expectedVersion"])
            reports = [InstanceReport(i, expected, now, matched=True) for i in instances]
            recorded = [report.to_data() for report in reports]
            steps.append({"instances": instances, "attempts": 2, "reports": recorded})
        else:
            steps.append({})
    return {"steps": steps}


FIRST_WORKER = "scheduler-1:4242:1f3c9a"
"""A scheduler worker's name, as `worker_id` makes them (host, pid, suffix)."""

SECOND_WORKER = "scheduler-2:5170:8be201"
"""Another scheduler process's worker."""


def scenario() -> list[Published]:
    """Run the scenario on a fresh in-memory application; every message it published."""
    app = Switchyard(_MEMORY, stage_factory=StageFactory(load_recipes()))
    try:
        run = _Run(app)
        acme, globex = _plan(run, 0, "green-rollout-2.5.0", "acme", "globex")
        _pause_takeover_rollback(run, acme)
        _fail_and_retry(run, globex)
        _plan_commands(run)
        _supersede(run)
        return run.published
    finally:
        app.close()


def _plan(run: _Run, seconds: float, name: str, *tenant_ids: str) -> tuple[UUID, ...]:
    """After `seconds`, create a plan, its name as its idempotency key; its task ids."""
    request = plan_request(name, *tenant_ids)
    created = run.command(seconds, lambda app: app.create_plan(request, "cli:alice", name))
    return tuple(created.task_ids)


def _pause_takeover_rollback(run: _Run, task_id: UUID) -> None:
    """Paused at a boundary, resumed, taken over mid-stage, completed, rolled back twice."""
    fence = run.claim(1, task_id, FIRST_WORKER)
    run.command(2, lambda app: app.pause_task(task_id, "cli:alice", "hold for the 14:00 freeze"))
    run.finish_stage(10, task_id, fence)
    run.command(900, lambda app: app.resume_task(task_id, "cli:alice", "freeze lifted"))
    run.claim(1, task_id, FIRST_WORKER)
    fence = run.claim(45, task_id, SECOND_WORKER)
    run.finish_stage(2, task_id, fence)
    run.finish_stage(6, task_id, fence)
    run.command(300, lambda app: app.rollback_task(task_id, "cli:alice", "2.5.0 drops sessions"))
    fence = run.claim(1, task_id, FIRST_WORKER)
    run.undo_stage(1, task_id, fence)
    run.undo_stage(1, task_id, fence)
    timeout = FailureInfo(FailureType.TIMEOUT, "redis: no answer within 5s")
    run.undo_stage(5, task_id, fence, timeout)
    run.command(120, lambda app: app.rollback_task(task_id, "cli:alice", "Redis is back"))
    fence = run.claim(1, task_id, FIRST_WORKER)
    run.undo_stage(1, task_id, fence)


def _fail_and_retry(run: _Run, task_id: UUID) -> None:
    """A stage fails for good; a retry from the checkpoint completes."""
    fence = run.claim(1, task_id, SECOND_WORKER)
    run.finish_stage(8, task_id, fence)
    failure = FailureInfo(FailureType.IO, "redis: Connection reset by peer")
    run.finish_stage(5, task_id, fence, failure)
    run.command(120, lambda app: app.retry_task(task_id, "cli:bob", True, "Redis failed over"))
    fence = run.claim(1, task_id, SECOND_WORKER)
    run.finish_stage(1, task_id, fence)
    run.finish_stage(6, task_id, fence)


def _plan_commands(run: _Run) -> None:
    """A task cancelled at a boundary, then every plan-wide command."""
    initech, _ = _plan(run, 600, "green-rollout-2.5.0-eu", "initech", "umbrella")
    plan_id = run.app.get_task(initech).plan_id
    fence = run.claim(1, initech, FIRST_WORKER)
    run.command(3, lambda app: app.cancel_task(initech, "cli:bob", "wrong maintenance window"))
    run.finish_stage(7, initech, fence)
    run.command(10, lambda app: app.pause_plan(plan_id, "cli:bob", "EU change freeze"))
    run.command(600, lambda app: app.resume_plan(plan_id, "cli:bob"))
    run.command(5, lambda app: app.cancel_plan(plan_id, "cli:bob", "postponed a week"))
    run.command(60, lambda app: app.retry_plan(plan_id, "cli:bob", True, "back on"))
    run.command(5, lambda app: app.cancel_plan(plan_id, "cli:bob", "postponed again"))
    run.command(60, lambda app: app.rollback_plan(plan_id, "cli:bob", "undo the EU config"))


def _supersede(run: _Run) -> None:
    """A newer plan that asks to supersede cancels a tenant's older task that never started."""
    _plan(run, 300, "green-rollout-2.5.0-apac", "hooli")
    request = {**plan_request("green-rollout-2.5.1-apac", "hooli"), "supersede": True}
    run.command(60, lambda app: app.create_plan(request, "cli:alice", "green-rollout-2.5.1-apac"))


def stable(published: list[Published]) -> list[Message]:
    """The messages with fixed task ids and the scenario's times."""
    messages = [_readable(p.record) for p in published]
    task_ids = dict.fromkeys(
        m.headers["ce_aggregateid"] for m in messages if m.headers["ce_aggregatetype"] == "Task"
    )
    fixed = {
        old: str(uuid5(NAMESPACE_URL, f"switchyard:example:task:{n}"))
        for n, old in enumerate(task_ids, start=1)
    }
    return [_stable(m, p.at, fixed) for m, p in zip(messages, published, strict=True)]


def _readable(record: KafkaRecord) -> Message:
    headers = {name: value.decode() for name, value in record.headers}
    return Message(record.key.decode(), headers, json.loads(record.value))


def _stable(message: Message, at: datetime, fixed: Mapping[str, str]) -> Message:
    def text(value: str) -> str:
        for old, new in fixed.items():
            value = value.replace(old, new)
        return value

    headers = {name: text(value) for name, value in message.headers.items()}
    headers["ce_time"] = at.isoformat()
    value = json.loads(text(json.dumps(message.value)))
    value["timestamp"] = at.isoformat()
    return Message(text(message.key), headers, value)
