"""A plan's status derived from its tasks' statuses, over representative mixes."""

from __future__ import annotations

import pytest

from switchyard.domain.status import PlanStatus, TaskStatus, derive_plan_status

T = TaskStatus
P = PlanStatus


class TestDerivePlanStatus:
    @pytest.mark.parametrize(
        ("tasks", "expected"),
        [
            ([T.CREATED], P.QUEUED),
            ([T.QUEUED, T.QUEUED, T.CREATED], P.QUEUED),
            ([T.RUNNING, T.QUEUED], P.RUNNING),
            ([T.RUNNING, T.COMPLETED], P.RUNNING),
            ([T.COMPLETED, T.QUEUED], P.RUNNING),
            ([T.FAILED, T.QUEUED], P.RUNNING),
            ([T.PAUSED, T.QUEUED], P.RUNNING),
            ([T.RUNNING, T.PAUSED, T.FAILED], P.RUNNING),
            ([T.PAUSED, T.PAUSED], P.PAUSED),
            ([T.PAUSED, T.COMPLETED, T.FAILED], P.PAUSED),
            ([T.COMPLETED, T.COMPLETED], P.COMPLETED),
            ([T.COMPLETED, T.FAILED], P.PARTIALLY_FAILED),
            ([T.COMPLETED, T.ROLLBACK_FAILED], P.PARTIALLY_FAILED),
            ([T.CANCELLED, T.FAILED], P.PARTIALLY_FAILED),
            ([T.FAILED, T.FAILED], P.FAILED),
            ([T.FAILED, T.ROLLBACK_FAILED], P.FAILED),
            ([T.CANCELLED, T.CANCELLED], P.CANCELLED),
            ([T.CANCELLED, T.COMPLETED], P.CANCELLED),
            ([T.CANCELLED, T.ROLLED_BACK], P.CANCELLED),
            ([T.ROLLING_BACK, T.COMPLETED], P.ROLLING_BACK),
            ([T.ROLLING_BACK, T.RUNNING, T.QUEUED], P.ROLLING_BACK),
            ([T.ROLLED_BACK, T.ROLLED_BACK], P.ROLLED_BACK),
            ([T.ROLLED_BACK, T.COMPLETED], P.PARTIALLY_ROLLED_BACK),
        ],
    )
    def test_derives_the_plan_status_from_a_mix(self, tasks: list[T], expected: P) -> None:
        assert derive_plan_status(tasks) is expected

    def test_ignores_the_order_of_the_tasks(self) -> None:
        mix = [T.COMPLETED, T.FAILED, T.PAUSED, T.CANCELLED]
        assert derive_plan_status(mix) is derive_plan_status(reversed(mix))

    def test_reads_any_iterable_once(self) -> None:
        assert derive_plan_status(s for s in (T.COMPLETED, T.FAILED)) is P.PARTIALLY_FAILED
