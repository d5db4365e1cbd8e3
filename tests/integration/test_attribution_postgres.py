"""Messages name their aggregate's tenant and plan, read from PostgreSQL's first events."""

from __future__ import annotations

from uuid import uuid4

from switchyard.adapters.relay.attribution import Attribution, PostgresFirstEvents, first_events
from switchyard.application.app import Switchyard
from switchyard.domain.tenant import tenant_tasks_id
from tests.support.builders import plan_request, run_stages
from tests.support.kafka import CountingFirstEvents, headers, read_in_batches, unattributed


def test_first_events_are_read_by_id_and_version_one(pg_app: Switchyard) -> None:
    created = pg_app.create_plan(plan_request("acme", "globex"), "alice")
    run_stages(pg_app, created.task_ids[0], 1)
    read = first_events(pg_app.recorder)
    assert isinstance(read, PostgresFirstEvents)
    ids = [*created.task_ids, tenant_tasks_id("acme"), created.plan_id, uuid4()]
    found = read(ids)
    assert sorted(str(e.originator_id) for e in found) == sorted(str(i) for i in ids[:-1])
    assert {e.originator_version for e in found} == {1}
    assert {e.topic.rpartition(".")[2] for e in found} == {"Created", "Registered"}


def test_a_reader_starting_mid_log_asks_once_per_batch(pg_app: Switchyard) -> None:
    created = pg_app.create_plan(plan_request(*(f"t{i:02}" for i in range(20))), "alice")
    after = pg_app.recorder.max_notification_id() or 0
    for task_id in created.task_ids:
        run_stages(pg_app, task_id, 1)
    counting = CountingFirstEvents(pg_app)
    attribution = Attribution(pg_app.mapper.transcoder, counting)
    records = read_in_batches(pg_app, attribution, 25, after=after)
    assert unattributed([headers(r) for r in records], pg_app) == []
    assert 0 < len(counting.calls) <= -(-len(records) // 25)
    assert sum(counting.calls) == len(created.task_ids)
