"""The Redis step kinds on a real Redis: `redis-write` remembers and restores exactly,
`redis-publish` reaches subscribers, and both fail with io when Redis is unreachable."""

from __future__ import annotations

import json
from uuid import uuid4

import httpx
import pytest
import redis
import redis.exceptions as rx
from redis.backoff import NoBackoff
from redis.retry import Retry

from switchyard.adapters.steps import build_executors
from switchyard.application.ports import StepContext, StepExecutor, StepFailed
from switchyard.domain.values import FailureType
from tests.support.steps import Subscriber, step


def test_redis_write_records_previous_values_and_undo_restores_exactly(
    executors: dict[str, StepExecutor], client: redis.Redis, context: StepContext
) -> None:
    key = f"route:{uuid4().hex}"
    client.hset(key, mapping={"version": "1.0.0", "other": "kept"})
    write = step("redis-write", key=key, fields={"version": "2.0.0", "planId": "p1"})

    recorded = executors["redis-write"].run(write, context)

    assert recorded["previous"] == {"version": "1.0.0", "planId": None}
    assert client.hgetall(key) == {"version": "2.0.0", "planId": "p1", "other": "kept"}
    executors["redis-write"].undo(write, json.loads(json.dumps(recorded)), context)
    assert client.hgetall(key) == {"version": "1.0.0", "other": "kept"}


def test_redis_write_rerun_after_a_crash_keeps_the_values_from_before_the_task(
    executors: dict[str, StepExecutor], client: redis.Redis, context: StepContext
) -> None:
    # Lost original: a re-run must not record the task's own write as "previous".
    key = f"route:{uuid4().hex}"
    client.hset(key, "version", "1.0.0")
    write = step("redis-write", key=key, fields={"version": "2.0.0"})

    first = executors["redis-write"].run(write, context)
    again = executors["redis-write"].run(write, context)

    assert again == first
    executors["redis-write"].undo(write, again, context)
    assert client.hgetall(key) == {"version": "1.0.0"}
    # After the undo, a new run starts from what is there now.
    assert executors["redis-write"].run(write, context)["previous"] == {"version": "1.0.0"}


def test_redis_write_undo_announces_the_restored_version(
    executors: dict[str, StepExecutor],
    client: redis.Redis,
    context: StepContext,
    subscriber: Subscriber,
    channel: str,
) -> None:
    key = f"route:{uuid4().hex}"
    client.hset(key, "version", "1.0.0")
    announce = {"channel": channel, "message": {"tenantId": "tenant-a", "taskId": "t1"}}
    write = step("redis-write", key=key, fields={"version": "2.0.0"}, announceOnUndo=announce)

    executors["redis-write"].undo(write, executors["redis-write"].run(write, context), context)

    notice = json.loads(subscriber.next())
    assert notice == {"tenantId": "tenant-a", "taskId": "t1", "version": "1.0.0", "rollback": True}


def test_redis_write_undo_of_a_first_write_deletes_and_announces_no_version(
    executors: dict[str, StepExecutor],
    client: redis.Redis,
    context: StepContext,
    subscriber: Subscriber,
    channel: str,
) -> None:
    key = f"route:{uuid4().hex}"
    announce = {"channel": channel, "message": {"tenantId": "tenant-a"}}
    write = step("redis-write", key=key, fields={"version": "2.0.0"}, announceOnUndo=announce)

    executors["redis-write"].undo(write, executors["redis-write"].run(write, context), context)

    assert client.exists(key) == 0
    assert json.loads(subscriber.next()) == {
        "tenantId": "tenant-a",
        "version": None,
        "rollback": True,
    }


def test_redis_steps_on_an_unreachable_redis_fail_with_io(
    http: httpx.Client, context: StepContext, refused_port: int
) -> None:
    no_retry = Retry(NoBackoff(), retries=0)
    with redis.Redis(port=refused_port, socket_connect_timeout=1, retry=no_retry) as down:
        executors = build_executors(down, http)
        for executor, definition in [
            (executors["redis-write"], step("redis-write", key="k", fields={"version": "2"})),
            (executors["redis-publish"], step("redis-publish", channel="c", message={"a": 1})),
        ]:
            with pytest.raises(StepFailed) as failure:
                executor.run(definition, context)
            assert (failure.value.type, failure.value.target) == (FailureType.IO, "redis")
            assert isinstance(failure.value.__cause__, rx.ConnectionError)


def test_redis_write_without_fields_is_fatal(
    executors: dict[str, StepExecutor], context: StepContext
) -> None:
    with pytest.raises(StepFailed) as failure:
        executors["redis-write"].run(step("redis-write", key="k", fields={}), context)
    assert failure.value.type == FailureType.FATAL


def test_redis_publish_reaches_a_subscriber(
    executors: dict[str, StepExecutor],
    context: StepContext,
    subscriber: Subscriber,
    channel: str,
) -> None:
    message = {"tenantId": "tenant-a", "version": "2.0.0"}
    publish = step("redis-publish", channel=channel, message=message)

    assert executors["redis-publish"].run(publish, context) == {"receivers": 1}
    assert json.loads(subscriber.next()) == message
    executors["redis-publish"].undo(publish, {"receivers": 1}, context)
    # Duplicate check without waiting for silence: the next message must be the sentinel.
    sentinel = step("redis-publish", channel=channel, message={"sentinel": True})
    executors["redis-publish"].run(sentinel, context)
    assert json.loads(subscriber.next()) == {"sentinel": True}
