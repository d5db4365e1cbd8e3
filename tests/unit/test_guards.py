"""Write guards on a store that cannot check them: refused loudly, never ignored."""

from __future__ import annotations

import pytest

from switchyard.application.app import Switchyard
from switchyard.application.guards import GuardedStore
from switchyard.application.ports import Claim
from tests.support.builders import NOW, plan_request


def test_the_in_memory_store_refuses_a_fenced_save(memory_app: Switchyard) -> None:
    task_id = memory_app.create_plan(plan_request("acme"), "alice").task_ids[0]
    task = memory_app.get_task(task_id)
    task.claim("worker-1", 1, NOW)
    assert not isinstance(memory_app.recorder, GuardedStore)
    with pytest.raises(TypeError):
        memory_app.save_fenced(task, Claim(task_id, 1, takeover=False))
    assert memory_app.get_task(task_id).version == 2  # created, queued: nothing written


def test_an_unknown_save_option_is_refused(memory_app: Switchyard) -> None:
    task_id = memory_app.create_plan(plan_request("acme"), "alice").task_ids[0]
    task = memory_app.get_task(task_id)
    task.pause("bob")
    with pytest.raises(TypeError):
        memory_app.save(task, fenced=(task_id, 1))
    assert memory_app.get_task(task_id).version == 2
