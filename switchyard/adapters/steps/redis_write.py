"""The `redis-write` step: set hash fields, remember what they were, and put them back.

The previous values are read in the same transaction as the write, so they are
exact. They are also kept in a journal key for a day: a stage re-run after a
crash (the write done, the result not yet recorded) finds the values from
before the task rather than its own writes, so the undo still restores exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from switchyard.adapters.steps.errors import mapping_param, param, step_errors
from switchyard.adapters.steps.redis_publish import REDIS_TARGET, publish
from switchyard.application.ports import StepContext
from switchyard.domain.values import StepDefinition

JOURNAL_TTL_SECONDS = 86_400
"""How long a write's previous values stay in Redis for a re-run after a crash."""


def journal_key(key: str, context: StepContext) -> str:
    """The Redis key holding the task's previous values of `key`'s fields."""
    return f"switchyard:undo:{context.task_id}:{key}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _encode(value: Any) -> EncodableT:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    return json.dumps(value)


class RedisWrite:
    """HSETs the step's `fields` on its `key`; undo restores them (params: key, fields).

    Optional `announceOnUndo: {channel, message}`: after restoring, publish the
    message with the restored `version` and `"rollback": true`.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def target(self, step: StepDefinition) -> str:
        """The downstream every Redis step calls, for the circuit breaker."""
        return REDIS_TARGET

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Write the fields; record the key and each field's previous value (None: absent)."""
        key = str(param(step, "key"))
        fields: dict[FieldT, EncodableT] = {
            str(name): _encode(value) for name, value in mapping_param(step, "fields").items()
        }
        names = [str(name) for name in fields]
        journal = journal_key(key, context)
        previous: dict[str, str | None] = {}

        def write(pipe: Pipeline) -> None:
            # Runs under WATCH on both keys; redis-py calls it again if either changed.
            previous.clear()
            previous.update(zip(names, map(_text, pipe.hmget(key, names)), strict=True))
            saved = pipe.get(journal)
            previous.update(json.loads(saved) if saved is not None else {})
            pipe.multi()
            pipe.set(journal, json.dumps(previous), ex=JOURNAL_TTL_SECONDS)
            pipe.hset(key, mapping=fields)

        with step_errors(REDIS_TARGET):
            self._client.transaction(write, key, journal)
        return {"key": key, "previous": {name: previous[name] for name in names}}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Put back fields that existed, delete fields that did not; then announce."""
        key = str(recorded["key"])
        previous: Mapping[str, str | None] = recorded["previous"]
        existed: dict[FieldT, EncodableT] = {
            name: value for name, value in previous.items() if value is not None
        }
        absent = [name for name, value in previous.items() if value is None]
        with step_errors(REDIS_TARGET):
            pipe = self._client.pipeline(transaction=True)
            if existed:
                pipe.hset(key, mapping=existed)
            if absent:
                pipe.hdel(key, *absent)
            pipe.delete(journal_key(key, context))
            pipe.hget(key, "version")
            restored_version = _text(pipe.execute()[-1])
        announce = step.params.get("announceOnUndo")
        if announce:
            message = {**announce.get("message", {}), "version": restored_version, "rollback": True}
            publish(self._client, str(announce["channel"]), message)
