"""The claim query on real PostgreSQL: which task a scheduler takes next."""

from __future__ import annotations

from datetime import UTC, datetime

from switchyard.adapters.postgres.event_store import TransactionalRecorder
from switchyard.adapters.postgres.leases import PostgresLeases
from switchyard.application.app import Switchyard
from switchyard.application.ports import Claim
from tests.support.builders import probe_plan

OWNER = "claimer"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def leases_of(app: Switchyard) -> PostgresLeases:
    """Leases on the application's store."""
    recorder = app.recorder
    assert isinstance(recorder, TransactionalRecorder)
    return PostgresLeases(recorder.datastore, recorder.channel_name)


def tenant_of(app: Switchyard, claim: Claim | None) -> str:
    """The tenant of the claimed task."""
    assert claim is not None, "nothing was claimed"
    return app.get_task(claim.task_id).tenant_id


def expire(app: Switchyard, claim: Claim) -> None:
    """Make the claim's lease expire now."""
    recorder = app.recorder
    assert isinstance(recorder, TransactionalRecorder)
    with recorder.datastore.transaction(commit=True) as curs:
        curs.execute(
            f"UPDATE {recorder.datastore.schema}.switchyard_queue_tasks"
            " SET lease_expires = now() - interval '1 s' WHERE task_id = %s",
            (claim.task_id,),
        )


def test_queued_tasks_are_claimed_by_plan_then_position(app: Switchyard) -> None:
    app.create_plan(probe_plan("beta", "alpha", max_concurrency=5), "ci")
    app.create_plan(probe_plan("gamma", max_concurrency=5), "ci")
    leases = leases_of(app)
    order = [tenant_of(app, leases.claim(OWNER, 30)) for _ in range(3)]
    assert order == ["beta", "alpha", "gamma"]
    assert leases.claim(OWNER, 30) is None


def test_a_plan_at_its_max_concurrency_gives_no_more_tasks(app: Switchyard) -> None:
    app.create_plan(probe_plan("beta", "alpha", "gamma", max_concurrency=2), "ci")
    leases = leases_of(app)
    assert leases.claim(OWNER, 30) is not None
    assert leases.claim(OWNER, 30) is not None
    assert leases.claim(OWNER, 30) is None


def test_an_expired_lease_is_taken_over_before_any_queued_task(app: Switchyard) -> None:
    app.create_plan(probe_plan("beta", "alpha", max_concurrency=5), "ci")
    leases = leases_of(app)
    first = leases.claim(OWNER, 30)
    assert first is not None
    expire(app, first)
    again = leases.claim(OWNER, 30)
    assert again is not None and again.takeover
    assert again.task_id == first.task_id and again.fence > first.fence


def test_a_released_running_task_is_claimed_before_any_queued_task(app: Switchyard) -> None:
    app.create_plan(probe_plan("beta", "alpha", max_concurrency=1), "ci")
    leases = leases_of(app)
    first = leases.claim(OWNER, 30)
    assert first is not None
    task = app.get_task(first.task_id)
    task.claim(OWNER, first.fence, NOW)
    app.save_fenced(task, first)
    leases.release(first, OWNER)  # its scheduler stopped mid-task
    again = leases.claim(OWNER, 30)
    assert again is not None and again.task_id == first.task_id and not again.takeover


def test_claims_taken_at_once_are_those_taken_one_by_one(app: Switchyard) -> None:
    app.create_plan(probe_plan("beta", "alpha", "gamma", max_concurrency=2), "ci")
    app.create_plan(probe_plan("alpha", "delta", "epsilon", max_concurrency=5), "ci")
    leases = leases_of(app)
    taken = leases.claim_many(OWNER, 30, 10)
    # The first plan's two (its max), then the second's but alpha (busy in the first).
    assert [tenant_of(app, claim) for claim in taken] == ["beta", "alpha", "delta", "epsilon"]
    fences = [claim.fence for claim in taken]
    assert fences == sorted(set(fences))
    assert leases.claim_many(OWNER, 30, 10) == []
