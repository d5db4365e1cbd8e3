"""Leases with fencing tokens in PostgreSQL: the `Leases` port.

Claims are serialised by one transaction-scoped advisory lock, so the checks
"plan below its max concurrency", "tenant not busy" and "no older task of the
tenant unfinished" (older: its plan was recorded earlier) see every other
claim and every retry or rollback (whose saves take the same lock);
lease expiry is judged by the database clock (`now()`), never a worker's. Each
claim draws a fence from a sequence, so fences only grow. The fence is also
recorded on the Task (its Started / Claimed event), which moves the aggregate's
version: a worker that lost its lease has its next save refused.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresDatastore
from psycopg import sql

from switchyard.adapters.postgres import scheduler_tables
from switchyard.adapters.postgres.claim_query import CLAIM
from switchyard.adapters.postgres.scheduler_tables import CLAIM_LOCK
from switchyard.application.ports import Claim, Progress

_NO_FLUSH = "SET LOCAL synchronous_commit = off"
"""Lease writes need not wait for the disk: a lease is a liveness hint, and the task's
next event (a durable commit) flushes it anyway. A database crash that loses one only
makes the task claimable again, and the fence on the Task's events still only grows."""

_LOCK_CLAIMS = (
    "BEGIN; SET LOCAL synchronous_commit = off; "
    "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off; "
    "SET LOCAL enable_hashjoin = off; SELECT pg_advisory_xact_lock({lock})"
)
"""A claim's first round trip: its transaction, lease writes unflushed (see `_NO_FLUSH`),
its plan pinned, and the claims' lock. The claim itself must be a later statement: a
statement's snapshot is taken when it starts, and must see every claim committed while
this one waited.

The plan is pinned to walking a plan's waiting tasks by position through their index and
stopping at the first that may run (`claim_query`). Left to its estimates, PostgreSQL
checked every waiting task and sorted them, 15-20 ms a claim with a few thousand
waiting: a queue's rows change by the second and a big plan's are not yet analyzed, so
its estimates are off in the way that makes that look cheap."""

_RENEW = """
UPDATE {schema}.{tasks}
SET lease_expires = now() + make_interval(secs => %(ttl)s), heartbeat_at = now(),
    current_stage = %(stage)s, completed_stages = %(completed)s
WHERE task_id = %(task_id)s AND fence = %(fence)s AND lease_owner = %(owner)s
"""

_RELEASE = """
UPDATE {schema}.{tasks} SET lease_owner = NULL, lease_expires = NULL
WHERE task_id = %(task_id)s AND fence = %(fence)s AND lease_owner = %(owner)s
"""


class PostgresLeases:
    """Claims, renews and releases task leases in the scheduler's tables."""

    def __init__(self, datastore: PostgresDatastore, channel: str) -> None:
        self._datastore = datastore
        self._channel = channel
        schema = datastore.schema or "public"
        ids: dict[str, Any] = {
            **scheduler_tables.names(schema),
            "schema_name": sql.SQL(schema),
            "fences_name": sql.SQL(scheduler_tables.FENCES),
            "unfinished": sql.SQL(scheduler_tables.UNFINISHED_SQL),
        }
        self._renew, self._release = (
            scheduler_tables.rendered(sql.SQL(text).format(**ids)) for text in (_RENEW, _RELEASE)
        )
        self._lock_claims = sql.SQL(_LOCK_CLAIMS.format(lock=CLAIM_LOCK))
        self._claim = scheduler_tables.rendered(sql.SQL(CLAIM).format(**ids))
        self._listener: psycopg.Connection[Any] | None = None

    def claim(self, owner: str, ttl_seconds: float) -> Claim | None:
        """Take the next runnable task (see the `Leases` port), or None."""
        found = self.claim_many(owner, ttl_seconds, 1)
        return found[0] if found else None

    def claim_many(self, owner: str, ttl_seconds: float, limit: int) -> list[Claim]:
        """Take up to `limit` runnable tasks (see the `Leases` port).

        Two round trips whatever the limit: the claims' lock, then the claim (a
        prepared statement) `limit` times, pipelined with the COMMIT. Each claim
        is a statement of its own, which sees the ones before it in the transaction,
        so together they keep every rule a claim keeps alone.
        """
        with self._datastore.get_connection() as conn, conn.cursor() as curs:
            try:
                curs.execute(self._lock_claims)
                with conn.pipeline() as pipeline:
                    params = {"owner": owner, "ttl": ttl_seconds}
                    claims = [conn.cursor() for _ in range(limit)]
                    for claim in claims:
                        claim.execute(self._claim, params, prepare=True)
                    curs.execute("COMMIT")
                    pipeline.sync()
                    rows = [claim.fetchone() for claim in claims]
            except BaseException:
                with contextlib.suppress(psycopg.Error):  # a broken connection is dropped
                    conn.rollback()
                raise
        return [
            Claim(task_id=row["task_id"], fence=row["fence"], takeover=row["takeover"])
            for row in rows
            if row is not None
        ]

    def renew(self, claim: Claim, owner: str, ttl_seconds: float, progress: Progress) -> bool:
        """Extend our lease and store the progress; False if the lease is no longer ours."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(_NO_FLUSH)
            curs.execute(
                self._renew,
                {
                    "ttl": ttl_seconds,
                    "stage": progress.current_stage,
                    "completed": progress.completed_stages,
                    "task_id": claim.task_id,
                    "fence": claim.fence,
                    "owner": owner,
                },
            )
            return curs.rowcount == 1

    def release(self, claim: Claim, owner: str) -> None:
        """Give the task back and wake the other schedulers."""
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(_NO_FLUSH)
            curs.execute(
                self._release, {"task_id": claim.task_id, "fence": claim.fence, "owner": owner}
            )
            curs.execute("SELECT pg_notify(%s, '')", (self._channel,))

    def wait_for_work(self, timeout_seconds: float) -> None:
        """Block until the event store notifies a write (LISTEN), or the timeout passes."""
        try:
            listener = self._listen()
            for _ in listener.notifies(timeout=timeout_seconds, stop_after=1):
                pass
        except psycopg.Error:
            self.close()  # a lost connection: listen again next time; the caller polls

    def close(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _listen(self) -> psycopg.Connection[Any]:
        if self._listener is None:
            params = self._datastore.pool.kwargs
            if not isinstance(params, dict):  # the library always gives a dict
                raise TypeError("connection parameters are not a mapping")
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return self._listener
