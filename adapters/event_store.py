"""The PostgreSQL application recorder switchyard uses: the library's, minus pipeline mode.

The library inserts a save's events in a psycopg pipeline. With a large save
(a plan of a few hundred tenants is one save of about a megabyte) the pipeline
can deadlock: the client waits in `sync()` while the server waits for input.
This recorder runs the very same statements (table lock, NOTIFY, one INSERT of
all the events, RETURNING their notification ids) in one ordinary transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry


class TransactionalRecorder(PostgresApplicationRecorder):
    """Inserts each save's events in one plain transaction, without pipeline mode."""

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert the events atomically, in order; return their notification ids."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return []
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


RECORDER_TOPIC = f"{__name__}:{TransactionalRecorder.__name__}"
"""The topic that tells the library to use this recorder."""
