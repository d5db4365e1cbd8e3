"""Application scenarios written once and run on every persistence (in-memory, PostgreSQL)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import ClassVar
from uuid import uuid4

import pytest

from switchyard.adapters.bootstrap import bootstrap
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.domain.errors import SwitchyardError
from switchyard.domain.status import PlanStatus, TaskStatus
from tests.support.builders import plan_request, run_stages
from tests.support.state import code_of, last_sequence


class AppFixtures:
    """The application on a persistence a subclass chooses with `env` (or `store_env`)."""

    env: ClassVar[Mapping[str, str] | None] = None
    """The event-store settings; None means a subclass's `store_env` fixture gives them."""

    @pytest.fixture()
    def store_env(self) -> Mapping[str, str]:
        """The event-store settings this class runs on."""
        assert self.env is not None, "a subclass sets env or overrides store_env"
        return self.env

    @pytest.fixture()
    def app(self, store_env: Mapping[str, str]) -> Iterator[Switchyard]:
        """The application on this class's persistence."""
        app = bootstrap(Settings(database_url=None).with_loopback(), env=dict(store_env))
        yield app
        app.close()


class AppScenarios(AppFixtures):
    """The application's use cases; a subclass chooses the persistence with `env`."""

    # -- create a plan ------------------------------------------------------

    def test_create_plan_returns_the_plan_and_task_ids(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex", "initech"), "alice")
        view = app.describe_plan(created.plan_id)
        assert created.created is True
        assert len(created.task_ids) == 3
        assert tuple(t.task_id for t in view.tasks) == created.task_ids
        assert view.created_by == "alice"

    def test_create_plan_queues_tasks_in_fifo_positions(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex", "initech"), "alice")
        view = app.describe_plan(created.plan_id)
        assert [(t.position, t.tenant_id) for t in view.tasks] == [
            (0, "acme"),
            (1, "globex"),
            (2, "initech"),
        ]
        assert {t.status for t in view.tasks} == {TaskStatus.QUEUED}
        assert view.max_concurrency == 2

    def test_create_plan_sequence_is_the_last_notification_id(self, app: Switchyard) -> None:
        app.create_plan(plan_request("acme"), "alice")
        created = app.create_plan(plan_request("globex", "initech"), "alice")
        assert created.sequence == last_sequence(app)

    def test_create_plan_refuses_an_invalid_request_and_records_nothing(
        self, app: Switchyard
    ) -> None:
        request = plan_request("acme")
        request["tenants"][0]["serviceType"] = "no-such-type"
        with pytest.raises(SwitchyardError) as info:
            app.create_plan(request, "alice")
        assert code_of(info) == "plan.invalid"
        assert last_sequence(app) == 0

    # -- steer by task id ---------------------------------------------------

    def test_pause_resume_cancel_by_task_id(self, app: Switchyard) -> None:
        task_id = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        paused = app.pause_task(task_id, "bob")
        assert app.describe_task(task_id).status == TaskStatus.PAUSED
        assert paused.task_ids == (task_id,)
        assert paused.sequence == last_sequence(app)
        app.resume_task(task_id, "bob")
        assert app.describe_task(task_id).status == TaskStatus.QUEUED
        app.cancel_task(task_id, "bob")
        assert app.describe_task(task_id).status == TaskStatus.CANCELLED

    def test_refused_task_command_records_nothing(self, app: Switchyard) -> None:
        task_id = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        app.cancel_task(task_id, "bob")
        before = last_sequence(app)
        with pytest.raises(SwitchyardError) as info:
            app.resume_task(task_id, "bob")
        assert code_of(info) == "task.invalid_transition"
        assert last_sequence(app) == before

    def test_retry_and_rollback_by_task_id(self, app: Switchyard) -> None:
        task_id = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        run_stages(app, task_id, 1, fail_next=True)
        assert app.describe_task(task_id).status == TaskStatus.FAILED
        app.retry_task(task_id, "bob")
        view = app.describe_task(task_id)
        assert (view.status, view.attempt, view.completed_stages) == (
            TaskStatus.QUEUED,
            2,
            ("ConfigUpdate",),
        )
        app.cancel_task(task_id, "bob")
        app.rollback_task(task_id, "bob")
        assert app.describe_task(task_id).status == TaskStatus.ROLLING_BACK

    # -- steer by plan id ---------------------------------------------------

    def test_plan_pause_skips_tasks_that_cannot_pause(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex", "initech"), "alice")
        cancelled = created.task_ids[1]
        app.cancel_task(cancelled, "bob")
        recorded = app.pause_plan(created.plan_id, "bob")
        assert recorded.task_ids == (created.task_ids[0], created.task_ids[2])
        statuses = [t.status for t in app.describe_plan(created.plan_id).tasks]
        assert statuses == [TaskStatus.PAUSED, TaskStatus.CANCELLED, TaskStatus.PAUSED]
        assert recorded.sequence == last_sequence(app)

    def test_plan_command_refused_when_no_task_accepts_it(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex"), "alice")
        app.pause_plan(created.plan_id, "bob")
        before = last_sequence(app)
        with pytest.raises(SwitchyardError) as info:
            app.pause_plan(created.plan_id, "bob")
        assert code_of(info) == "plan.command_refused"
        assert last_sequence(app) == before
        assert len(list(app.events.get(created.plan_id))) == 2  # created, one pause request

    def test_plan_retry_starts_tasks_without_checkpoint_from_scratch(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex"), "alice")
        run_stages(app, created.task_ids[0], 2, fail_next=True)
        app.cancel_task(created.task_ids[1], "bob")
        recorded = app.retry_plan(created.plan_id, "bob")
        assert recorded.task_ids == created.task_ids
        views = app.describe_plan(created.plan_id).tasks
        assert [(v.status, len(v.completed_stages)) for v in views] == [
            (TaskStatus.QUEUED, 2),
            (TaskStatus.QUEUED, 0),
        ]

    def test_plan_cancel_resume_and_rollback(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex"), "alice")
        app.pause_plan(created.plan_id, "bob")
        assert app.resume_plan(created.plan_id, "bob").task_ids == created.task_ids
        app.cancel_plan(created.plan_id, "bob")
        app.rollback_plan(created.plan_id, "bob")
        assert app.describe_plan(created.plan_id).status == PlanStatus.ROLLED_BACK

    # -- not found ----------------------------------------------------------

    def test_unknown_task_is_task_not_found(self, app: Switchyard) -> None:
        with pytest.raises(SwitchyardError) as info:
            app.pause_task(uuid4(), "bob")
        assert code_of(info) == "task.not_found"

    def test_plan_id_is_not_a_task_id(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme"), "alice")
        with pytest.raises(SwitchyardError) as info:
            app.describe_task(created.plan_id)
        assert code_of(info) == "task.not_found"

    def test_unknown_plan_is_plan_not_found(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme"), "alice")
        for call in (
            lambda: app.describe_plan(uuid4()),
            lambda: app.pause_plan(uuid4(), "bob"),
            lambda: app.describe_plan(created.task_ids[0]),
        ):
            with pytest.raises(SwitchyardError) as info:
                call()
            assert code_of(info) == "plan.not_found"

    def test_unknown_tenant_is_tenant_not_found(self, app: Switchyard) -> None:
        app.create_plan(plan_request("acme"), "alice")
        for call in (
            lambda: app.pause_tenant("nobody", "bob"),
            lambda: app.describe_tenant("nobody"),
        ):
            with pytest.raises(SwitchyardError) as info:
                call()
            assert code_of(info) == "tenant.not_found"

    # -- idempotency key ----------------------------------------------------

    def test_same_key_same_request_returns_the_first_plan(self, app: Switchyard) -> None:
        first = app.create_plan(plan_request("acme", "globex"), "alice", "key-1")
        before = last_sequence(app)
        again = app.create_plan(copy.deepcopy(plan_request("acme", "globex")), "bob", "key-1")
        assert (again.plan_id, again.task_ids, again.created) == (
            first.plan_id,
            first.task_ids,
            False,
        )
        assert last_sequence(app) == before
        assert app.current_task_id("acme") == first.task_ids[0]

    def test_same_key_different_request_is_refused(self, app: Switchyard) -> None:
        app.create_plan(plan_request("acme"), "alice", "key-1")
        before = last_sequence(app)
        with pytest.raises(SwitchyardError) as info:
            app.create_plan(plan_request("acme", "globex"), "alice", "key-1")
        assert code_of(info) == "plan.idempotency_key_reused"
        assert last_sequence(app) == before

    def test_different_keys_make_different_plans(self, app: Switchyard) -> None:
        first = app.create_plan(plan_request("acme"), "alice", "key-1")
        second = app.create_plan(plan_request("acme"), "alice", "key-2")
        assert first.plan_id != second.plan_id
        assert second.created is True

    # -- history and derived status -----------------------------------------

    def test_task_history_lists_actor_and_reason(self, app: Switchyard) -> None:
        task_id = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        app.pause_task(task_id, "bob", "maintenance window")
        app.resume_task(task_id, "carol")
        history = app.task_history(task_id)
        assert [e.version for e in history] == list(range(1, len(history) + 1))
        assert [e.type for e in history] == [
            "Created",
            "Queued",
            "PauseRequested",
            "Paused",
            "Resumed",
        ]
        asked = [(e.fields["actor"], e.fields["reason"]) for e in history[2::2]]
        assert asked == [("bob", "maintenance window"), ("carol", None)]

    def test_task_history_of_unknown_task_is_task_not_found(self, app: Switchyard) -> None:
        with pytest.raises(SwitchyardError) as info:
            app.task_history(uuid4())
        assert code_of(info) == "task.not_found"

    def test_describe_plan_derives_status_from_tasks(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex"), "alice")
        assert app.describe_plan(created.plan_id).status == PlanStatus.QUEUED
        run_stages(app, created.task_ids[0], 3)
        assert app.describe_plan(created.plan_id).status == PlanStatus.RUNNING
        run_stages(app, created.task_ids[1], 1, fail_next=True)
        view = app.describe_plan(created.plan_id)
        assert view.status == PlanStatus.PARTIALLY_FAILED
        assert view.progress == (4, 6)
        app.retry_plan(created.plan_id, "bob")
        run_stages(app, created.task_ids[1], 2)
        assert app.describe_plan(created.plan_id).status == PlanStatus.COMPLETED

    def test_describe_plan_paused_then_cancelled(self, app: Switchyard) -> None:
        created = app.create_plan(plan_request("acme", "globex"), "alice")
        app.pause_plan(created.plan_id, "bob")
        assert app.describe_plan(created.plan_id).status == PlanStatus.PAUSED
        app.cancel_plan(created.plan_id, "bob")
        assert app.describe_plan(created.plan_id).status == PlanStatus.CANCELLED
