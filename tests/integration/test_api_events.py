"""A plan's events as Server-Sent Events, from a real uvicorn on a real PostgreSQL: every
event in order with its sequence as id (none lost, none duplicated, none out of order),
resumed after the last id received, closed by `end` when the plan finishes; other
tenants' plans unseen; streams per token limited, and given back when a client goes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.pool import QueuePool

from switchyard.adapters.api.read_schemas import AuditEventOut
from switchyard.adapters.api.streams import EventStreams
from switchyard.adapters.api.tokens import Scope, Tokens
from switchyard.adapters.bootstrap import Container
from switchyard.adapters.postgres.read_store import reading
from switchyard.projections.queries import audit
from tests.support.api import Issued, api_app, issue
from tests.support.builders import plan_request, run_stages
from tests.support.sse import Message, event_stream, served
from tests.support.waiting import wait_until

READER = issue("dashboard", frozenset({Scope.PLANS_READ}))
OTHER_READER = issue("pager", frozenset({Scope.PLANS_READ}))
ACME_ONLY = issue("acme-bot", tenants={"acme"})
PATH = "/v1/plans/{}/events"


@dataclass(frozen=True)
class Live:
    """A served API: an HTTP client of it, the container it runs on, its stream counter."""

    client: httpx.Client
    parts: Container
    streams: EventStreams

    def plan(self, *tenants: str) -> tuple[UUID, list[UUID]]:
        """Record a plan for these tenants; its id and its tasks' ids."""
        made = self.parts.app.create_plan(plan_request(*tenants), "deploy-bot")
        return made.plan_id, list(made.task_ids)

    def finish(self, task_id: UUID) -> None:
        """Play a worker running the task's remaining stages."""
        task = self.parts.app.get_task(task_id)
        run_stages(self.parts.app, task_id, task.total_stages - len(task.completed))

    def stored(self, *aggregate_ids: UUID) -> list[int]:
        """The sequences of these aggregates' events in the store, in order."""
        wanted = set(aggregate_ids)
        found = self.parts.app.recorder.select_notifications(1, 100_000)
        return [n.id for n in found if n.originator_id in wanted]

    def status(self, plan_id: UUID, issued: Issued, **headers: str) -> httpx.Response:
        """Open a stream and close it at once: the answer's status line and headers."""
        path = PATH.format(plan_id)
        with self.client.stream("GET", path, headers={**issued.headers, **headers}) as answer:
            if answer.status_code != 200:
                answer.read()
            return answer


@pytest.fixture()
def live(pg_env: dict[str, str]) -> Iterator[Live]:
    """The API served on a free port, two streams per token, quick polls and pings."""
    with (
        api_app(
            pg_env,
            READER,
            OTHER_READER,
            ACME_ONLY,
            api_max_streams=2,
            api_sse_ping_seconds=0.2,
            api_sse_poll_seconds=0.05,
        ) as app,
        served(app.asgi) as url,
        httpx.Client(base_url=url, timeout=httpx.Timeout(10.0)) as client,
    ):
        yield Live(client, app.parts, app.asgi.state.streams)


def sequences(found: list[Message]) -> list[int]:
    """The ids of the events (not `end`), as sequences."""
    return [int(m.id or "") for m in found if m.event != "end"]


def test_a_plans_events_arrive_in_order_with_ids_then_end_when_it_finishes(live: Live) -> None:
    plan_id, tasks = live.plan("acme", "globex")
    with event_stream(live.client, PATH.format(plan_id), READER.headers) as stream:
        so_far = live.stored(plan_id, *tasks)
        first = [stream.next() for _ in so_far]
        assert sequences(first) == so_far
        for task in tasks:
            live.finish(task)
        found = first + stream.until_end()
    assert sequences(found) == live.stored(plan_id, *tasks)
    tenants = dict(zip(tasks, ("acme", "globex"), strict=True))
    for message in found[:-1]:
        event = message.json()
        assert event["sequence"] == int(message.id or "")
        assert event["eventType"] == message.event
        assert event["planId"] == str(plan_id)
        if event["aggregateType"] == "Task":
            assert event["tenantId"] == tenants[UUID(event["aggregateId"])]
    assert found[0].event == "Created" and found[0].json()["aggregateType"] == "Plan"
    end = found[-1]
    assert end.event == "end" and end.id is None
    last = int(found[-2].id or "")
    assert end.json() == {"planId": str(plan_id), "status": "COMPLETED", "sequence": last}


def test_each_events_data_is_its_entry_in_the_audit_trail(live: Live) -> None:
    plan_id, tasks = live.plan("acme", "globex")
    live.parts.app.pause_task(tasks[1], "ops", "hold on")
    live.finish(tasks[0])
    live.parts.app.cancel_task(tasks[1], "ops")
    with event_stream(live.client, PATH.format(plan_id), READER.headers) as stream:
        streamed = [m.json() for m in stream.until_end()[:-1]]
    live.parts.rebuild_read_tables()
    with reading(live.parts.read_engine()) as conn:
        rows = audit(conn, plan=str(plan_id), oldest_first=True, limit=1000)
    trail = [
        AuditEventOut.model_validate(row).model_dump(mode="json", by_alias=True)
        for row in rows
        if row.aggregate_type in ("Plan", "Task")  # a TenantTasks' TaskAssigned names it too
    ]
    assert streamed == trail


def test_events_committed_concurrently_are_none_of_them_skipped(live: Live) -> None:
    plan_id, tasks = live.plan(*(f"tenant-{i}" for i in range(6)))
    with event_stream(live.client, PATH.format(plan_id), READER.headers) as stream:
        first = stream.next()
        with ThreadPoolExecutor(max_workers=len(tasks)) as workers:
            list(workers.map(live.finish, tasks))
        found = [first, *stream.until_end()]
    every = sequences(found)
    assert every == sorted(set(every)), "duplicate or out of order"
    assert every == live.stored(plan_id, *tasks), "lost (unseen)"


def test_resuming_after_the_last_id_gives_exactly_the_rest(live: Live) -> None:
    plan_id, (acme, globex) = live.plan("acme", "globex")
    run_stages(live.parts.app, acme, 1)
    path = PATH.format(plan_id)
    with event_stream(live.client, path, READER.headers) as stream:
        before = [stream.next() for _ in range(3)]
    live.finish(acme)
    run_stages(live.parts.app, globex, 1)
    resumed = {**READER.headers, "Last-Event-ID": str(before[-1].id)}
    with event_stream(live.client, path, resumed, after=0) as stream:
        rest = [stream.next()]
        live.finish(globex)
        rest += stream.until_end()
    every = sequences(before) + sequences(rest)
    assert len(every) == len(set(every)), "duplicate"
    assert every == live.stored(plan_id, acme, globex), "lost or out of order"
    with event_stream(live.client, path, READER.headers, after=before[-1].id) as stream:
        assert sequences(stream.until_end()) == sequences(rest)
    with event_stream(live.client, path, READER.headers, after=every[-1]) as stream:
        assert [m.event for m in stream.until_end()] == ["end"]


def test_a_token_limited_to_other_tenants_gets_404_and_sees_only_its_tenants_tasks(
    live: Live,
) -> None:
    globex_plan, _ = live.plan("globex")
    for plan_id in (globex_plan, uuid4()):
        refused = live.client.get(PATH.format(plan_id), headers=ACME_ONLY.headers)
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "plan.not_found"
    plan_id, (acme, _) = live.plan("acme", "globex")
    with event_stream(live.client, PATH.format(plan_id), ACME_ONLY.headers) as stream:
        live.parts.app.cancel_task(acme, "ops")
        found = stream.until_end()
    # Not the plan's own events either: they name every tenant and task of the plan.
    assert {m.json()["aggregateId"] for m in found[:-1]} == {str(acme)}
    assert sequences(found) == live.stored(acme)
    assert found[-1].json()["status"] == "CANCELLED"


def test_an_idle_stream_sends_keep_alive_comments(live: Live) -> None:
    plan_id, _ = live.plan("acme")
    with event_stream(live.client, PATH.format(plan_id), READER.headers) as stream:
        while (message := stream.next(comments=True)).comment is None:
            assert message.event is not None
        assert message.comment.startswith("ping")


def test_a_stream_closes_without_end_when_the_service_stops(live: Live) -> None:
    plan_id, _ = live.plan("acme")
    with event_stream(live.client, PATH.format(plan_id), READER.headers) as stream:
        stream.next()
        live.parts.stop.set()
        rest = stream.rest()
    assert "end" not in {m.event for m in rest}


def test_streams_over_the_limit_are_refused_and_a_disconnect_gives_the_slot_back(
    live: Live,
) -> None:
    plan_id, _ = live.plan("acme")
    path = PATH.format(plan_id)
    token = _token_id(READER)
    with event_stream(live.client, path, READER.headers) as first:
        first.next()
        with event_stream(live.client, path, READER.headers) as second:
            second.next()
            refused = live.status(plan_id, READER)
            assert refused.status_code == 429
            assert refused.json()["code"] == "stream.too_many"
            assert int(refused.headers["retry-after"]) > 0
            assert live.status(plan_id, OTHER_READER).status_code == 200
        wait_until(lambda: live.streams.open_streams(token) == 1, 10, "the slot given back")
        with event_stream(live.client, path, READER.headers) as again:
            again.next()
    wait_until(lambda: live.streams.open_streams(token) == 0, 10, "every slot given back")
    pool = live.parts.store_engine().pool
    assert isinstance(pool, QueuePool)
    wait_until(lambda: pool.checkedout() == 0, 10, "every connection back in the pool")


def _token_id(issued: Issued) -> str:
    found = Tokens([issued.setting]).authenticate(issued.token)
    assert found is not None
    return found.token_id
