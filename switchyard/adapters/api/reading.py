"""What the API's queries share: reading the read tables, after waiting for `minSequence`.

A query given `minSequence` (the `sequence` a command answered) waits, up to
SWITCHYARD_READ_WAIT_SECONDS, until the read tables reflect it
(`adapters.postgres.freshness`, as the CLI's `--min-sequence` does); if they do
not, it answers 503 `read.stale` with the relay's and the projector's positions
and Retry-After. The query then runs in one transaction holding the read tables'
shared lock (`read_store.reading`), so a rebuild's swap never shows half a table.
A query of one statement (`read_one`) runs so on the event loop, through the API's
async pool (`read_pool`): no thread unless it has to wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import ClauseElement, Connection

from switchyard.adapters.api.deps import ApiServices
from switchyard.adapters.postgres.freshness import behind, wait_for
from switchyard.adapters.postgres.persistence import store_errors
from switchyard.adapters.postgres.read_store import reading
from switchyard.domain.errors import ReadStale

T = TypeVar("T")


def read(parts: ApiServices, action: Callable[[Connection], T], min_sequence: int | None) -> T:
    """Run `action` on the read tables once they reflect `min_sequence` (if given)."""
    with store_errors():
        if min_sequence is not None:
            wait_until_reflected(parts, min_sequence)
        with reading(parts.read_engine) as conn:
            return action(conn)


async def read_one(
    parts: ApiServices,
    statement: ClauseElement,
    params: Mapping[str, Any],
    row: Callable[..., T],
    min_sequence: int | None,
) -> T | None:
    """The statement's first row as `row(**columns)` (or None), read on the event loop once
    the read tables reflect `min_sequence` (if given: waited for on a thread)."""
    with store_errors():
        if min_sequence is not None:
            await to_thread.run_sync(wait_until_reflected, parts, min_sequence)
        return await parts.read_pool.one(statement, params, row)


def wait_until_reflected(parts: ApiServices, min_sequence: int) -> None:
    """Return once the read tables reflect `min_sequence`; raise `ReadStale` if they do not
    within SWITCHYARD_READ_WAIT_SECONDS."""
    settings = parts.settings
    found = wait_for(
        parts.read_engine,
        settings.kafka_topic,
        min_sequence,
        settings.read_wait_seconds,
        parts.store_apart,
    )
    if not found.fresh:
        raise ReadStale(
            f"the read tables do not reflect sequence {min_sequence} after "
            f"{settings.read_wait_seconds:g} s: {behind(found.status)}",
            sequence=min_sequence,
        )
