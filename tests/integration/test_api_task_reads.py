"""`GET /v1/tasks/{taskId}`, answered on the event loop through the API's async pool: the
same answer as the read tables' synchronous query, for every task and a tenant-limited
token; 503 when the tables do not reach `minSequence`; and, like every read, it waits for
a rebuild's swap (the read tables' lock held alone)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import psycopg

from switchyard.adapters.api.read_schemas import TaskOut
from switchyard.adapters.postgres.read_store import LOCK_KEY
from switchyard.projections.fleet import get_task
from tests.integration.test_api_commands import assert_problem
from tests.integration.test_api_queries import ACME_ONLY, READER, Fleet, fleet
from tests.support.api import api_client
from tests.support.waiting import wait_until

__all__ = ["fleet"]  # the fixture, shared with the other queries' tests


def synchronous_answer(fleet: Fleet, task_id: str, tenants: set[str] | None = None) -> Any:
    """The task as the synchronous query reads it, in the API's JSON (None if not seen)."""
    with fleet.parts.read_engine().connect() as conn:
        row = get_task(conn, task_id, tenants)
    return (
        None if row is None else TaskOut.model_validate(row).model_dump(mode="json", by_alias=True)
    )


def test_every_task_answers_as_the_synchronous_query_reads_it(fleet: Fleet) -> None:
    tasks = {key: task for key, task in fleet.ids.items() if "/" in key}
    for task in tasks.values():
        assert fleet.json(f"/v1/tasks/{task}") == synchronous_answer(fleet, task)


def test_a_tenant_limited_token_reads_only_its_tenants_tasks(fleet: Fleet) -> None:
    for key, task in fleet.ids.items():
        if "/" not in key:
            continue
        seen = synchronous_answer(fleet, task, {"acme"})
        if key.endswith("/acme"):
            assert seen is not None and fleet.json(f"/v1/tasks/{task}", ACME_ONLY) == seen
        else:
            assert seen is None
            assert_problem(fleet.get(f"/v1/tasks/{task}", ACME_ONLY), 404, "task.not_found")


def test_a_task_read_at_a_sequence_the_tables_do_not_reach_is_stale(
    pg_env: dict[str, str],
) -> None:
    with api_client(pg_env, READER, read_wait_seconds=0.2) as (client, _):
        response = client.get(
            "/v1/tasks/00000000-0000-0000-0000-000000000007?minSequence=999999",
            headers=READER.headers,
        )
        body = assert_problem(response, 503, "read.stale")
        assert "the relay has published up to sequence" in body["detail"]
        assert response.headers["retry-after"]


def test_a_task_read_waits_for_a_rebuilds_swap(fleet: Fleet, database_url: str) -> None:
    task = fleet.ids["one/acme"]
    answers: list[httpx.Response] = []
    with psycopg.connect(database_url, autocommit=True) as swap:
        swap.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        reader = threading.Thread(target=lambda: answers.append(fleet.get(f"/v1/tasks/{task}")))
        reader.start()
        wait_until(lambda: waiting_for_the_lock(swap), 30, "the read waiting for the lock")
        assert not answers
        swap.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        reader.join(30)
    assert [a.status_code for a in answers] == [200]


def waiting_for_the_lock(conn: psycopg.Connection[Any]) -> bool:
    """Whether a session waits for the read tables' advisory lock."""
    found = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND (classid::bigint << 32 | objid::bigint) = %s",
        [LOCK_KEY],
    ).fetchone()
    return found is not None and found[0] > 0
