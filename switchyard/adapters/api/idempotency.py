"""`Idempotency-Key` on every POST, as the IETF draft has it, scoped to the token.

The first request with a key runs and its response (any but a 5xx) is stored with
the fingerprint of the request (method, path, query and body, JSON key order aside).
The same key again with the same request replays that response, marked
`Idempotent-Replayed: true`; with another request it is refused (422,
`idempotency.key_reused`); while the first is still in flight, 409
(`idempotency.in_flight`). Keys are stored per token, so a client never sees
another's response, and expire after `API_IDEMPOTENCY_HOURS`. Requests without a
key, or whose token is not known (the route answers 401), pass straight through.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import timedelta

from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard.adapters.api.deps import ApiServices
from switchyard.adapters.api.problems import send_problem
from switchyard.adapters.postgres.idempotency import StoredResponse, claim

HEADER = b"idempotency-key"
KEPT_HEADERS = frozenset({b"content-type", b"location"})
"""The response headers replayed with a stored response."""
MAX_KEY_LENGTH = 255


class Idempotency:
    """ASGI middleware giving POSTs with an `Idempotency-Key` their stored response."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request once per key, or replay or refuse it."""
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = headers.get(HEADER)
        if key is None:
            await self._app(scope, receive, send)
            return
        parts: ApiServices = scope["app"].state.services
        principal = parts.tokens.authenticate(_bearer(headers))
        if principal is None:
            await self._app(scope, receive, send)
            return
        text = key.decode("latin-1")
        if not 0 < len(text) <= MAX_KEY_LENGTH or not text.isprintable():
            detail = f"the Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters"
            await _problem(scope, send, 400, "idempotency.key_invalid", detail)
            return
        body = await _body(receive)
        fingerprint = _fingerprint(scope, body)
        ttl = timedelta(hours=parts.settings.api_idempotency_hours)
        with contextlib.ExitStack() as stack:
            held = await to_thread.run_sync(
                stack.enter_context, claim(parts.store_engine, principal.token_id, text, ttl)
            )
            if held is None:
                detail = "a request with this Idempotency-Key is still in flight; retry later"
                await _problem(scope, send, 409, "idempotency.in_flight", detail, retry=True)
                return
            stored = await to_thread.run_sync(held.stored)
            if stored is not None and stored.fingerprint != fingerprint:
                detail = "this Idempotency-Key was first used for another request"
                await _problem(scope, send, 422, "idempotency.key_reused", detail)
            elif stored is not None:
                await _replay(stored, send)
            else:
                # The response is held back until it is stored and the key's claim has
                # committed: a client that retries once it has the answer gets it replayed,
                # never a 409 for a request still finishing.
                response = await _run(self._app, scope, body)
                if response.status < 500:
                    stored = StoredResponse(fingerprint, *response.parts())
                    await to_thread.run_sync(held.store, stored)
                await to_thread.run_sync(stack.close)
                for message in response.messages:
                    await send(message)


class _Captured:
    """A response as the app made it: its messages, and its status, kept headers and body."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 500
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()

    def parts(self) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers and body, for storing."""
        return self.status, self.headers, bytes(self.body)


async def _run(app: ASGIApp, scope: Scope, body: bytes) -> _Captured:
    """Run the app on the already-read body, keeping its response (sent by the caller)."""
    captured = _Captured()
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def copied(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in message.get("headers", [])
                if name.lower() in KEPT_HEADERS
            ]
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")
        captured.messages.append(message)

    await app(scope, replayed, copied)
    return captured


async def _replay(stored: StoredResponse, send: Send) -> None:
    """Send a stored response again."""
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in stored.headers]
    headers += [
        (b"content-length", b"%d" % len(stored.body)),
        (b"idempotent-replayed", b"true"),
    ]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


async def _body(receive: Receive) -> bytes:
    """The whole request body (the body limit outside this bounds it)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _fingerprint(scope: Scope, body: bytes) -> str:
    """The request's method, path, query and body (JSON in a canonical form), hashed."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"]):
        digest.update(part + b"\0")
    digest.update(canonical)
    return digest.hexdigest()


def _bearer(headers: dict[bytes, bytes]) -> str:
    """The bearer token of the request, or an empty string."""
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


TITLES = {
    400: "The Idempotency-Key is invalid",
    409: "A request with this Idempotency-Key is in flight",
    422: "Idempotency key already used for another request",
}


async def _problem(
    scope: Scope, send: Send, status: int, code: str, detail: str, retry: bool = False
) -> None:
    """Send one of the idempotency problems."""
    headers = {"Retry-After": "1"} if retry else None
    await send_problem(scope, send, status, code, TITLES[status], detail, headers)
