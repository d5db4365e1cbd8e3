"""A simulated fleet of gateway instances, for tests, the demo and benchmarks.

Each instance is a small HTTP server on 127.0.0.1 answering GET /health with
{"version": ...}. Like a real gateway, an instance switches version when a
change notice for its tenant arrives on the Redis channel; a notice whose
version is null (a rollback to "no route") sends it back to the initial
version. Instances added as `stuck` never switch, for failure tests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

import redis
from redis.client import PubSub

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT_SECONDS = 10.0
"""How long Redis may take to confirm the subscription before the fleet gives up."""

LISTEN_POLL_SECONDS = 0.1
"""How long the listener waits for a notice before checking whether it should stop."""


class _Instance(ThreadingHTTPServer):
    """One gateway instance: an HTTP server that knows its current version."""

    daemon_threads = True

    def __init__(self, version: str, stuck: bool) -> None:
        super().__init__(("127.0.0.1", 0), _HealthHandler)
        self.version = version
        self.stuck = stuck

    @property
    def endpoint(self) -> str:
        """Where it listens, as "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self.server_address[1]}"


class _HealthHandler(BaseHTTPRequestHandler):
    """Answers GET /health with the instance's version; 404 elsewhere."""

    def do_GET(self) -> None:
        """Serve the health document."""
        if self.path.partition("?")[0] != "/health":
            self.send_error(404)
            return
        body = json.dumps({"version": cast(_Instance, self.server).version}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: benchmarks make thousands of requests."""


class Fleet:
    """Tenants' simulated instances, switching version on notices from Redis."""

    def __init__(
        self,
        redis_url: str,
        channel: str = "switchyard:route-updates",
        initial_version: str = "1.0.0",
    ) -> None:
        self.initial_version = initial_version
        self._tenants: dict[str, list[_Instance]] = {}
        self._announced: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._client = redis.Redis.from_url(redis_url)
        # redis-py leaves pubsub() unannotated; it returns a PubSub.
        self._pubsub: PubSub = self._client.pubsub()  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(channel)
        self._await_subscription()
        self._listener = threading.Thread(target=self._listen, name="fleet-listener", daemon=True)
        self._listener.start()

    def add_tenant(self, tenant_id: str, instances: int = 2, stuck: int = 0) -> list[str]:
        """Start the tenant's instances (the first `stuck` never switch); their endpoints."""
        started = [_Instance(self.initial_version, stuck=n < stuck) for n in range(instances)]
        for instance in started:
            threading.Thread(target=instance.serve_forever, daemon=True).start()
        with self._lock:
            self._tenants.setdefault(tenant_id, []).extend(started)
        return [instance.endpoint for instance in started]

    def versions(self, tenant_id: str) -> list[str]:
        """The version each of the tenant's instances reports now."""
        with self._lock:
            return [instance.version for instance in self._tenants[tenant_id]]

    def release(self, tenant_id: str) -> None:
        """Unstick the tenant's stuck instances: they take the last version announced to it."""
        with self._lock:
            instances = list(self._tenants.get(tenant_id, []))
            version = self._announced.get(tenant_id)
        for instance in instances:
            instance.stuck = False
            if version is not None:
                instance.version = version

    def close(self) -> None:
        """Stop listening and stop every instance."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._listener.join()
        self._pubsub.close()
        self._client.close()
        with self._lock:
            instances = [i for tenant in self._tenants.values() for i in tenant]
        # shutdown() waits for the server's poll interval: stop them all at once.
        stoppers = [threading.Thread(target=i.shutdown) for i in instances]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for instance in instances:
            instance.server_close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _await_subscription(self) -> None:
        """Wait for Redis to confirm the subscription, so no later notice is lost."""
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=LISTEN_POLL_SECONDS)
            if message is not None and message["type"] == "subscribe":
                return
        self._pubsub.close()
        self._client.close()
        raise TimeoutError("Redis did not confirm the fleet's subscription")

    def _listen(self) -> None:
        """Apply notices until closed; ride out Redis hiccups (redis-py resubscribes)."""
        while not self._closed.is_set():
            try:
                message = self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=LISTEN_POLL_SECONDS
                )
            except redis.RedisError as exc:
                log.warning("fleet lost its Redis subscription (%s); retrying", exc)
                self._closed.wait(LISTEN_POLL_SECONDS)
                continue
            if message is not None:
                self._apply(message["data"])

    def _apply(self, data: bytes | str) -> None:
        """Switch the notice's tenant to the notice's version (null: the initial one)."""
        try:
            notice = json.loads(data)
        except ValueError:
            return
        if not isinstance(notice, dict) or "version" not in notice:
            return
        version = notice["version"]
        new_version = self.initial_version if version is None else str(version)
        tenant_id = str(notice.get("tenantId"))
        with self._lock:
            self._announced[tenant_id] = new_version
            instances = list(self._tenants.get(tenant_id, []))
        for instance in instances:
            if not instance.stuck:
                instance.version = new_version
