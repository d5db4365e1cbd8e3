"""The `redis-publish` step: a change notice on a Redis channel, so gateways reload."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from switchyard.adapters.steps.errors import mapping_param, param, step_errors
from switchyard.application.ports import StepContext
from switchyard.domain.values import StepDefinition

REDIS_TARGET = "redis"
"""The downstream name Redis failures carry, for the scheduler's circuit breaker."""


def publish(client: redis.Redis, channel: str, message: Mapping[str, Any]) -> int:
    """Publish `message` as JSON on `channel`; return how many subscribers received it."""
    with step_errors(REDIS_TARGET):
        return int(client.publish(channel, json.dumps(dict(message))))


class RedisPublish:
    """Publishes the step's `message` on its `channel` (params: channel, message)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def target(self, step: StepDefinition) -> str:
        """The downstream every Redis step calls, for the circuit breaker."""
        return REDIS_TARGET

    def run(self, step: StepDefinition, context: StepContext) -> Mapping[str, Any]:
        """Publish the notice; record how many subscribers received it."""
        channel = str(param(step, "channel"))
        return {"receivers": publish(self._client, channel, mapping_param(step, "message"))}

    def undo(self, step: StepDefinition, recorded: Mapping[str, Any], context: StepContext) -> None:
        """Nothing to undo: the ConfigUpdate undo announces the rollback."""
