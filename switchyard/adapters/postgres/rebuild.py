"""Rebuild every read table from the event store, without Kafka, then swap it in.

The events are read in notification order (`select_notifications`) and made
into the relay's messages (`adapters.relay.attribution`, so each names its
tenant and plan), then applied by the same handlers (`projections.apply`) into
fresh tables in a shadow schema while queries keep answering from the live
ones. The swap is one transaction: under the read tables' lock, which every
`read_store.apply` holds shared, it applies what the store recorded since,
moves the live tables aside and the fresh ones in (ALTER TABLE ... SET SCHEMA
carries their indexes), and drops the old ones. The projector's positions stay:
events it delivers again after the swap are duplicates by version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, Transcoder
from sqlalchemy import Connection, Engine, text

from switchyard.adapters.postgres.read_store import LOCK_KEY
from switchyard.adapters.relay.attribution import Attribution, first_events
from switchyard.projections.apply import apply_events
from switchyard.projections.events import from_message
from switchyard.projections.tables import positions, read_metadata

log = logging.getLogger(__name__)

BATCH = 1000
"""How many stored events are read and applied per transaction."""

SWAPPED = [t for t in read_metadata.sorted_tables if t is not positions]
"""The tables a rebuild replaces (the positions are the projector's, not derived)."""


Progress = Callable[[int, int], None]
"""Told, after each batch, the last notification id applied and the store's newest."""


def rebuild(
    engine: Engine,
    schema: str,
    recorder: AggregateRecorder,
    transcoder: Transcoder,
    progress: Progress | None = None,
) -> int:
    """Rebuild the read tables of `schema` from the store; the last notification id applied."""
    if not isinstance(recorder, ApplicationRecorder):
        raise TypeError("a rebuild reads the notification log of an application recorder")
    shadow, old = f"{schema}_rebuild", f"{schema}_replaced"
    attribution = Attribution(transcoder, first_events(recorder))
    with engine.begin() as conn:
        for name in (shadow, old):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{shadow}"'))
        in_shadow = conn.execution_options(schema_translate_map={None: shadow})
        read_metadata.create_all(in_shadow, tables=SWAPPED)
    last, caught_up = 0, False
    while not caught_up:
        with engine.begin() as conn:
            caught_up, last = _catch_up(conn, shadow, recorder, attribution, last)
        if progress is not None:
            progress(last, recorder.max_notification_id() or 0)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        caught_up = False
        while not caught_up:
            caught_up, last = _catch_up(conn, shadow, recorder, attribution, last)
        _swap(conn, schema, shadow, old)
    log.info("read tables of schema %s rebuilt from the store up to %d", schema, last)
    return last


def _catch_up(
    conn: Connection,
    shadow: str,
    recorder: ApplicationRecorder,
    attribution: Attribution,
    after: int,
) -> tuple[bool, int]:
    """Apply the next batch after notification `after` into the shadow tables."""
    notifications = recorder.select_notifications(after, BATCH, inclusive_of_start=False)
    if not notifications:
        return True, after
    events = [from_message(r.headers, r.value) for r in attribution.records(notifications)]
    apply_events(conn.execution_options(schema_translate_map={None: shadow}), events)
    return len(notifications) < BATCH, notifications[-1].id


def _swap(conn: Connection, schema: str, shadow: str, old: str) -> None:
    conn.execute(text(f'CREATE SCHEMA "{old}"'))
    for table in SWAPPED:
        conn.execute(text(f'ALTER TABLE "{schema}"."{table.name}" SET SCHEMA "{old}"'))
        conn.execute(text(f'ALTER TABLE "{shadow}"."{table.name}" SET SCHEMA "{schema}"'))
    conn.execute(text(f'DROP SCHEMA "{old}" CASCADE'))
    conn.execute(text(f'DROP SCHEMA "{shadow}" CASCADE'))
