"""Scenarios of a tenant's tasks across plans, run on every persistence.

A tenant's tasks run in the order their plans were recorded; commands by tenant
act on its current task; a task that a newer one has overtaken is superseded.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from switchyard.application.app import Switchyard
from switchyard.application.views import TaskRef
from switchyard.domain.errors import SwitchyardError
from switchyard.domain.status import TaskStatus
from tests.support.builders import plan_request, run_stages
from tests.support.scenarios import AppFixtures
from tests.support.state import code_of, last_sequence


def status(app: Switchyard, task_id: UUID) -> TaskStatus:
    """A task's status."""
    return app.describe_task(task_id).status


class TenantOrderScenarios(AppFixtures):
    """A tenant's tasks across plans; a subclass chooses the persistence."""

    # -- the tenant's current task ------------------------------------------

    def test_tenant_commands_act_on_the_running_task_not_a_newer_one(self, app: Switchyard) -> None:
        older = app.create_plan(plan_request("acme", "globex"), "alice").task_ids[0]
        newer = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        assert app.current_task_id("acme") == older  # the oldest waiting one
        run_stages(app, older, 1)
        recorded = app.pause_tenant("acme", "bob")
        assert recorded.task_ids == (older,)
        assert (status(app, older), status(app, newer)) == (TaskStatus.PAUSED, TaskStatus.QUEUED)
        assert app.describe_tenant("acme").task_id == older  # a paused task holds the tenant

    def test_a_tenant_whose_tasks_all_finished_acts_on_the_newest(self, app: Switchyard) -> None:
        older = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        newer = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        app.cancel_task(older, "bob")
        assert app.current_task_id("acme") == newer
        app.cancel_task(newer, "bob")
        assert app.retry_tenant("acme", "bob", from_checkpoint=False).task_ids == (newer,)

    def test_every_tenant_command_reaches_the_current_task(self, app: Switchyard) -> None:
        task_id = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        app.cancel_tenant("acme", "bob")
        app.retry_tenant("acme", "bob", from_checkpoint=False)
        app.pause_tenant("acme", "bob")
        app.resume_tenant("acme", "bob")
        app.cancel_tenant("acme", "bob")
        app.rollback_tenant("acme", "bob")
        view = app.describe_tenant("acme")
        assert (view.task_id, view.status, view.attempt) == (task_id, TaskStatus.ROLLED_BACK, 2)

    # -- waiting for an older task ------------------------------------------

    def test_a_waiting_task_names_the_older_task_it_waits_for(self, app: Switchyard) -> None:
        first = app.create_plan(plan_request("acme"), "alice")
        second = app.create_plan(plan_request("acme"), "alice")
        third = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        older, newer = first.task_ids[0], second.task_ids[0]
        assert app.describe_task(newer).waiting_for == TaskRef(older, first.plan_id)
        assert app.describe_task(third).waiting_for == TaskRef(newer, second.plan_id)
        assert app.describe_task(older).waiting_for is None
        app.cancel_task(older, "bob")
        assert app.describe_task(newer).waiting_for is None

    def test_a_running_older_task_is_named_past_finished_ones(self, app: Switchyard) -> None:
        first = app.create_plan(plan_request("acme"), "alice")
        run_stages(app, first.task_ids[0], 1)
        between = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        app.cancel_task(between, "bob")
        newest = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        assert app.describe_task(newest).waiting_for == TaskRef(first.task_ids[0], first.plan_id)

    # -- superseded tasks ----------------------------------------------------

    def test_retry_and_rollback_of_a_superseded_task_are_refused(self, app: Switchyard) -> None:
        older = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        run_stages(app, older, 1, fail_next=True)
        newer = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        run_stages(app, newer, 3)
        before = last_sequence(app)
        for command in (
            lambda: app.retry_task(older, "bob"),
            lambda: app.retry_task(older, "bob", from_checkpoint=False),
            lambda: app.rollback_task(older, "bob"),
        ):
            with pytest.raises(SwitchyardError) as info:
                command()
            assert code_of(info) == "task.superseded"
            assert info.value.details["newer_task_id"] == str(newer)
        assert last_sequence(app) == before
        assert status(app, older) == TaskStatus.FAILED
        app.rollback_task(newer, "bob")  # the newest task may always roll back
        assert status(app, newer) == TaskStatus.ROLLING_BACK

    def test_an_older_task_may_retry_while_the_newer_one_waits(self, app: Switchyard) -> None:
        first = app.create_plan(plan_request("acme"), "alice")
        older = first.task_ids[0]
        run_stages(app, older, 1, fail_next=True)
        newer = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        app.retry_task(older, "bob")
        assert status(app, older) == TaskStatus.QUEUED
        assert app.describe_task(newer).waiting_for == TaskRef(older, first.plan_id)

    def test_plan_retry_and_rollback_skip_superseded_tasks(self, app: Switchyard) -> None:
        plan = app.create_plan(plan_request("acme", "globex"), "alice")
        for task_id in plan.task_ids:
            run_stages(app, task_id, 1, fail_next=True)
        newer = app.create_plan(plan_request("acme"), "alice").task_ids[0]
        run_stages(app, newer, 0)
        assert app.retry_plan(plan.plan_id, "bob").task_ids == plan.task_ids[1:]
        with pytest.raises(SwitchyardError) as info:
            app.rollback_plan(plan.plan_id, "bob")  # acme's is superseded, globex's queued
        assert code_of(info) == "plan.command_refused"
        assert status(app, plan.task_ids[0]) == TaskStatus.FAILED

    # -- supersede at creation ------------------------------------------------

    def test_supersede_cancels_older_waiting_tasks_with_the_plan(self, app: Switchyard) -> None:
        older = app.create_plan(plan_request("acme", "globex"), "alice")
        before = last_sequence(app)
        newer = app.create_plan(plan_request("acme", supersede=True), "carol")
        assert status(app, older.task_ids[0]) == TaskStatus.CANCELLED
        assert status(app, older.task_ids[1]) == TaskStatus.QUEUED  # not a tenant of it
        last = app.task_history(older.task_ids[0])[-1]
        assert (last.type, last.fields) == (
            "Superseded",
            {"by_plan_id": newer.plan_id, "by_task_id": newer.task_ids[0], "actor": "carol"},
        )
        recorded = app.recorder.select_notifications(before + 1, 1000)
        assert recorded[-1].id == newer.sequence  # one save: the plan and the cancellation
        assert app.describe_task(newer.task_ids[0]).waiting_for is None

    def test_supersede_leaves_a_started_older_task_alone(self, app: Switchyard) -> None:
        older = app.create_plan(plan_request("acme"), "alice")
        run_stages(app, older.task_ids[0], 1)
        newer = app.create_plan(plan_request("acme", supersede=True), "carol").task_ids[0]
        assert status(app, older.task_ids[0]) == TaskStatus.RUNNING
        assert app.describe_task(newer).waiting_for == TaskRef(older.task_ids[0], older.plan_id)

    def test_without_supersede_the_newer_task_queues_behind(self, app: Switchyard) -> None:
        older = app.create_plan(plan_request("acme"), "alice")
        newer = app.create_plan(plan_request("acme"), "carol").task_ids[0]
        assert status(app, older.task_ids[0]) == TaskStatus.QUEUED
        assert app.describe_task(newer).waiting_for == TaskRef(older.task_ids[0], older.plan_id)
