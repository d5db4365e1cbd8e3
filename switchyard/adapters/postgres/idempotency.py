"""The API's idempotency keys in PostgreSQL: one request at a time per key, and the
response it got.

`claim(engine, token_id, key, ttl)` opens a transaction holding a transaction-level
advisory lock on the (token, key) pair, taken without waiting: if another request
with that key is in flight, there is no claim (the API answers 409). A claim tells
what an earlier request with the key stored (if it has not expired), and stores this
request's response when it ends; closing it commits (or rolls back) and so releases
the lock. A process that dies mid-request loses its connection, and with it the
lock: a retry then runs the request again (the commands below are safe to repeat).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, text

LOCK_CLASS = 0x5159_4B45
"""The advisory locks' first key (two-key form), apart from every single-key lock."""


@dataclass(frozen=True)
class StoredResponse:
    """What an earlier request with the key got, and its body's fingerprint."""

    fingerprint: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Claim:
    """The right to run the one request with a key, in an open transaction."""

    def __init__(self, conn: Connection, token_id: str, key: str, ttl: timedelta) -> None:
        self._conn = conn
        self._token_id = token_id
        self._key = key
        self._ttl = ttl

    def stored(self) -> StoredResponse | None:
        """The response stored for the key, unless it has expired."""
        row = self._conn.execute(
            text(
                "SELECT fingerprint, status, headers, body FROM switchyard_idempotency_keys"
                " WHERE token_id = :token AND key = :key AND created_at > now() - :ttl"
            ),
            {"token": self._token_id, "key": self._key, "ttl": self._ttl},
        ).first()
        if row is None:
            return None
        headers = [(str(name), str(value)) for name, value in row.headers]
        return StoredResponse(row.fingerprint, row.status, headers, bytes(row.body))

    def store(self, response: StoredResponse) -> None:
        """Keep the response for the key (replacing an expired one), and purge expired keys."""
        params = {"token": self._token_id, "key": self._key, "ttl": self._ttl}
        self._conn.execute(
            text("DELETE FROM switchyard_idempotency_keys WHERE created_at <= now() - :ttl"),
            params,
        )
        self._conn.execute(
            text(
                "INSERT INTO switchyard_idempotency_keys"
                " (token_id, key, fingerprint, status, headers, body, created_at)"
                " VALUES (:token, :key, :fingerprint, :status, :headers, :body, now())"
                " ON CONFLICT (token_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
                " status = EXCLUDED.status, headers = EXCLUDED.headers, body = EXCLUDED.body,"
                " created_at = EXCLUDED.created_at"
            ),
            {
                **params,
                "fingerprint": response.fingerprint,
                "status": response.status,
                "headers": json.dumps(response.headers),
                "body": response.body,
            },
        )


@contextlib.contextmanager
def claim(engine: Engine, token_id: str, key: str, ttl: timedelta) -> Iterator[Claim | None]:
    """A claim on the key for the block's length, or None if a request holds it now.

    The transaction commits when the block ends normally and rolls back if it raises.
    """
    with engine.connect() as conn, conn.begin():
        taken = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:cls, hashtext(:token || ' ' || :key))"),
            {"cls": LOCK_CLASS, "token": token_id, "key": key},
        ).scalar()
        yield Claim(conn, token_id, key, ttl) if taken else None
