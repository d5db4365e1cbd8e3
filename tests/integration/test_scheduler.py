"""The scheduler on a real PostgreSQL: limits, FIFO, tenant exclusion, boundaries, fences."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.application.app import Switchyard
from switchyard.domain.errors import StaleFence
from switchyard.domain.status import PlanStatus, TaskStatus
from tests.support.builders import probe_plan
from tests.support.schedulers import (
    STAGES,
    Probe,
    event_names,
    max_overlap,
    running_scheduler,
    runs_of,
)
from tests.support.waiting import wait_until


def settled(app: Switchyard, plan_id: Any, status: PlanStatus) -> bool:
    """Whether the plan has reached the status."""
    return app.describe_plan(plan_id).status == status


def test_plan_of_50_runs_at_most_5_at_once_in_fifo_order(app: Switchyard) -> None:
    probe = Probe()
    tenants = [f"t{i:02d}" for i in range(50)]
    created = app.create_plan(probe_plan(*tenants, max_concurrency=5), "ci")
    with running_scheduler(app, {"probe": probe}):
        wait_until(lambda: settled(app, created.plan_id, PlanStatus.COMPLETED), 60, "plan done")
    runs = [run for task_id in created.task_ids for run in runs_of(app, task_id)]
    assert len(runs) == 50
    assert max_overlap(runs) <= 5
    by_fence = sorted(runs, key=lambda r: r.fence)
    assert [r.position for r in by_fence] == list(range(50)), "out of order"
    assert len(probe.runs) == 150 and len(set(probe.runs)) == 150, "duplicate or lost stage"


def test_two_plans_sharing_tenants_never_overlap_on_a_tenant(app: Switchyard) -> None:
    tenants = [f"shared{i}" for i in range(6)]
    first = app.create_plan(probe_plan(*tenants, max_concurrency=6), "ci")
    second = app.create_plan(probe_plan(*reversed(tenants), max_concurrency=6), "ci")
    with running_scheduler(app, {"probe": Probe()}):
        for created in (first, second):
            wait_until(lambda c=created: settled(app, c.plan_id, PlanStatus.COMPLETED), 60)
    for tenant in tenants:
        runs = [
            run
            for created in (first, second)
            for task_id in created.task_ids
            for run in runs_of(app, task_id)
            if run.tenant_id == tenant
        ]
        assert len(runs) == 2
        assert max_overlap(runs) == 1, f"tenant {tenant} ran twice at once"


def test_pause_mid_stage_lets_the_stage_finish_then_resume_completes(app: Switchyard) -> None:
    probe = Probe()
    release = probe.hold("Two")
    created = app.create_plan(probe_plan("acme"), "ci")
    task_id = created.task_ids[0]
    with running_scheduler(app, {"probe": probe}):
        assert probe.entered["Two"].wait(30), "unseen: stage Two never started"
        app.pause_task(task_id, "sre", "freeze")
        release.set()
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.PAUSED, 30)
        assert app.describe_task(task_id).completed_stages == ("One", "Two")
        app.resume_task(task_id, "sre")
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 30)
    assert probe.runs == [("acme", stage) for stage in STAGES]


def test_cancel_mid_stage_lets_the_stage_finish_then_stops(app: Switchyard) -> None:
    probe = Probe()
    release = probe.hold("One")
    task_id = app.create_plan(probe_plan("acme"), "ci").task_ids[0]
    with running_scheduler(app, {"probe": probe}):
        assert probe.entered["One"].wait(30)
        app.cancel_task(task_id, "sre")
        release.set()
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.CANCELLED, 30)
    assert probe.runs == [("acme", "One")]
    assert event_names(app, task_id)[-2:] == ["StageCompleted", "Cancelled"]


def test_retry_from_checkpoint_skips_completed_stages(app: Switchyard) -> None:
    probe = Probe(failures={("acme", "Three"): 1})
    task_id = app.create_plan(probe_plan("acme"), "ci").task_ids[0]
    with running_scheduler(app, {"probe": probe}):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.FAILED, 30)
        assert app.describe_task(task_id).failed_stage == "Three"
        app.retry_task(task_id, "sre", from_checkpoint=True)
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 30)
    assert probe.runs == [("acme", "One"), ("acme", "Two"), ("acme", "Three"), ("acme", "Three")]
    assert "RetryCompleted" in event_names(app, task_id)


def test_retry_from_scratch_runs_every_stage_again(app: Switchyard) -> None:
    probe = Probe(failures={("acme", "Two"): 1})
    task_id = app.create_plan(probe_plan("acme"), "ci").task_ids[0]
    with running_scheduler(app, {"probe": probe}):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.FAILED, 30)
        app.retry_task(task_id, "sre", from_checkpoint=False)
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 30)
    assert [stage for _, stage in probe.runs] == ["One", "Two", "One", "Two", "Three"]


def test_rollback_undoes_completed_stages_newest_first(app: Switchyard) -> None:
    probe = Probe(undo_failures={("acme", "Two"): 1})
    task_id = app.create_plan(probe_plan("acme"), "ci").task_ids[0]
    with running_scheduler(app, {"probe": probe}):
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.COMPLETED, 30)
        app.rollback_task(task_id, "sre", "bad release")
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.ROLLBACK_FAILED, 30)
        assert app.describe_task(task_id).completed_stages == ("One", "Two")
        app.rollback_task(task_id, "sre", "again")
        wait_until(lambda: app.describe_task(task_id).status == TaskStatus.ROLLED_BACK, 30)
    assert [stage for _, stage in probe.undos] == ["Three", "Two", "Two", "One"]


def test_a_stale_workers_write_is_refused_by_the_fence(app: Switchyard) -> None:
    task_id = app.create_plan(probe_plan("acme"), "ci").task_ids[0]
    recorder: Any = app.recorder
    leases = PostgresLeases(recorder.datastore, recorder.channel_name)
    first = leases.claim("worker-a", ttl_seconds=0.05)
    assert first is not None and first.task_id == task_id
    stale = app.get_task(task_id)
    stale.claim("worker-a", first.fence, stale.created_on)
    app.save_fenced(stale, first)
    second = _claim_after_expiry(leases, "worker-b")
    assert second.task_id == task_id and second.takeover and second.fence > first.fence
    late = app.get_task(task_id)  # worker-a's view is still current: nobody saved since
    late.begin_stage(first.fence)
    with pytest.raises(StaleFence) as refused:
        app.save_fenced(late, first)
    assert refused.value.code == "task.stale_fence"
    assert event_names(app, task_id) == ["Created", "Queued", "Started"]
    leases.close()


def _claim_after_expiry(leases: PostgresLeases, owner: str) -> Any:
    found: list[Any] = []

    def claimed() -> bool:
        claim = leases.claim(owner, ttl_seconds=30)
        if claim is not None:
            found.append(claim)
        return bool(found)

    wait_until(claimed, 10, "takeover after the lease expired")
    return found[0]
