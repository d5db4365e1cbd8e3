"""Failure handling on a real PostgreSQL: breakers per target, and notifications.

Checks, Jepsen-style: a downstream that keeps failing is not hammered (call
count bounded) while another target's task is not delayed; a permanent failure
is not unseen (the webhook receives it); a failing notifier loses no work.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.adapters.settings import Settings
from switchyard.adapters.steps.recipes import parse_recipes
from switchyard.application.app import Switchyard
from switchyard.application.breakers import BreakerState, CircuitBreakers
from switchyard.application.notifications import Notification, NotificationType, Severity
from switchyard.application.ports import StepContext, StepFailed
from switchyard.domain.stage_factory import StageFactory
from switchyard.domain.status import TaskStatus
from switchyard.domain.values import FailureType, StepDefinition
from tests.support.builders import plan_request, probe_plan, tenant
from tests.support.schedulers import Probe, event_names, running_scheduler
from tests.support.waiting import wait_until
from tests.support.webhooks import webhook_server

ATTEMPTS = 10
"""Each remote step's retry budget: what a dead downstream would get without a breaker."""

THRESHOLD = 3
"""Consecutive failures that open a breaker in these tests."""

SETTLED = (TaskStatus.COMPLETED, TaskStatus.FAILED)


def remote_stage(target: str) -> dict[str, Any]:
    """A service type of one stage calling `target`, retried quickly."""
    retry = {"maxAttempts": ATTEMPTS, "fixed": "10ms"}
    step = {"kind": "remote", "params": {"target": target, "retry": retry}}
    return {"stages": [{"name": "Call", "steps": [step]}]}


@dataclass
class Remote:
    """A step executor at the boundary naming its target; the `down` targets fail with I/O."""

    down: set[str]
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def target(self, step: StepDefinition) -> str:
        """The step's `target` param."""
        return str(step.params["target"])

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Count the call; fail if the target is down."""
        target = self.target(step)
        with self.lock:
            self.calls[target] += 1
        if target in self.down:
            raise StepFailed(FailureType.IO, f"{target}: refused", target=target)
        return {"target": target}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo."""


@dataclass
class Recorder:
    """A notifier at the boundary that keeps what it is given, and may then fail."""

    broken: bool = False
    got: list[Notification] = field(default_factory=list)

    def notify(self, notification: Notification) -> None:
        """Keep the notification; raise if broken."""
        self.got.append(notification)
        if self.broken:
            raise ConnectionError("notifier down")


@pytest.fixture()
def remote_app(pg_env: dict[str, str]) -> Iterator[Switchyard]:
    """An application whose service types `down` and `up` call one target each."""
    recipes = {"down": remote_stage("down:1"), "up": remote_stage("up:1")}
    factory = StageFactory(parse_recipes(recipes, "tests"))
    application = bootstrap(
        Settings(database_url=None).with_loopback(), env=pg_env, stage_factory=factory
    )
    yield application
    application.close()


def last_event_time(app: Switchyard, task_id: UUID) -> Any:
    """When the task's newest event was recorded."""
    return list(app.events.get(task_id))[-1].timestamp


def test_a_dead_downstream_opens_its_breaker_and_is_not_hammered(remote_app: Switchyard) -> None:
    remote = Remote(down={"down:1"})
    breakers = CircuitBreakers(THRESHOLD, open_seconds=1.0)
    notifier = Recorder()
    fields = {"targetVersion": "2", "endpoints": ["h:1"]}
    configs = [tenant(n, "down", **fields) for n in ("d0", "d1", "d2", "d3")]
    request = plan_request(*configs, tenant("u0", "up", **fields), max_concurrency=5)
    created = remote_app.create_plan(request, "ci")
    *down_ids, up_id = created.task_ids
    settings = Settings(database_url=None, breaker_max_waits=1).with_loopback()
    with running_scheduler(
        remote_app, {"remote": remote}, settings=settings, breakers=breakers, notifier=notifier
    ):
        for task_id in created.task_ids:
            wait_until(lambda t=task_id: remote_app.describe_task(t).status in SETTLED, 30)
    assert remote_app.describe_task(up_id).status == TaskStatus.COMPLETED
    failures = [remote_app.get_task(t).failure for t in down_ids]
    assert [remote_app.describe_task(t).status for t in down_ids] == [TaskStatus.FAILED] * 4
    assert {f.type for f in failures if f} <= {FailureType.IO, FailureType.CIRCUIT_OPEN}
    assert FailureType.CIRCUIT_OPEN in {f.type for f in failures if f}, "no task was delayed"
    assert breakers.opens.get("down:1") >= 1
    assert breakers.state("up:1") == BreakerState.CLOSED
    # Without the breaker: 4 tasks x 10 attempts = 40 calls. With it: the calls
    # that opened it, and at most one trial per task per open period waited out.
    assert remote.calls["down:1"] <= THRESHOLD + len(down_ids) * 3, "hammered the downstream"
    assert remote.calls["up:1"] == 1
    latest_down = max(last_event_time(remote_app, t) for t in down_ids)
    assert last_event_time(remote_app, up_id) < latest_down, "the other target was delayed"
    told = Counter((n.task_id, n.type) for n in notifier.got)
    assert told == Counter((t, NotificationType.MAX_RETRY_REACHED) for t in down_ids)


def test_the_webhook_receives_a_permanent_failure(app: Switchyard) -> None:
    probe = Probe(failures={("acme", "Two"): 1})
    created = app.create_plan(probe_plan("acme"), "ci")
    task_id = created.task_ids[0]
    with webhook_server() as hook:
        settings = Settings(database_url=None, webhook_url=hook.url).with_loopback()
        with running_scheduler(app, {"probe": probe}, settings=settings):
            wait_until(lambda: app.describe_task(task_id).status == TaskStatus.FAILED, 30)
            wait_until(lambda: bool(hook.received), 10, "webhook call")
    [received] = hook.received
    assert received["type"] == NotificationType.NON_RETRYABLE_FAILED
    assert received["severity"] == Severity.ERROR
    assert received["taskId"] == str(task_id)
    assert received["planId"] == str(created.plan_id)
    assert received["tenantId"] == "acme"
    assert received["stage"] == "Two"
    assert received["failureType"] == FailureType.FATAL


def abandon(app: Switchyard, mid_stage: bool) -> UUID:
    """A task whose worker claimed it (and maybe began its first stage), then died."""
    task_id = app.create_plan(probe_plan("acme"), "ci").task_ids[0]
    recorder: Any = app.recorder
    leases = PostgresLeases(recorder.datastore, recorder.channel_name)
    first = leases.claim("worker-a", ttl_seconds=0.05)
    assert first is not None
    abandoned = app.get_task(task_id)
    abandoned.claim("worker-a", first.fence, abandoned.created_on)
    if mid_stage:
        abandoned.begin_stage(first.fence)
    app.save_fenced(abandoned, first)
    leases.close()
    return task_id


def test_a_takeover_is_notified_and_a_failing_notifier_loses_no_work(app: Switchyard) -> None:
    task_id = abandon(app, mid_stage=False)
    notifier = Recorder(broken=True)
    with running_scheduler(app, {"probe": Probe()}, notifier=notifier):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 30)
    assert [(n.type, n.severity) for n in notifier.got] == [
        (NotificationType.TAKEOVER, Severity.WARNING)
    ]
    # A notifier error that escaped would make the worker let go and the task be claimed again.
    assert event_names(app, task_id).count("Claimed") == 1, "duplicate claim"


def test_a_takeover_names_the_stage_it_interrupted(app: Switchyard) -> None:
    task_id = abandon(app, mid_stage=True)
    notifier = Recorder()
    with running_scheduler(app, {"probe": Probe()}, notifier=notifier):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 30)
    [takeover] = [n for n in notifier.got if n.type == NotificationType.TAKEOVER]
    assert takeover.stage == "One"
