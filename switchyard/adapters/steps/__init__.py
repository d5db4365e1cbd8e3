"""Step executors, one per step kind, and the table the scheduler looks them up in.

A new step kind is a new module here and a line in `build_executors`; the
engine knows kinds only by name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx
from redis import Redis

from switchyard.adapters.steps.health_check import HealthCheck
from switchyard.adapters.steps.http_request import HttpRequest
from switchyard.adapters.steps.noop import Noop
from switchyard.adapters.steps.redis_publish import RedisPublish
from switchyard.adapters.steps.redis_write import RedisWrite
from switchyard.adapters.steps.resolvers import DnsResolver, Resolver
from switchyard.application.ports import StepExecutor


def build_executors(
    redis: Redis,
    http: httpx.Client,
    *,
    sleep: Callable[[float], None] = time.sleep,
    resolvers: Mapping[str, Resolver] | None = None,
) -> dict[str, StepExecutor]:
    """Each step kind's executor, on the given clients; `resolvers` by registry kind."""
    registries = {"dns": DnsResolver()} if resolvers is None else dict(resolvers)
    return {
        "redis-write": RedisWrite(redis),
        "redis-publish": RedisPublish(redis),
        "health-check": HealthCheck(http, sleep, registries),
        "http-request": HttpRequest(http),
        "noop": Noop(),
    }
