"""Every published message names its aggregate's tenant and plan, though most events do not.

A task's events after `Created` name neither its tenant nor its plan, yet a
consumer that joins mid-stream must attribute each message. An aggregate's first
event names what it belongs to for good: a Task's `Created` its tenant and plan,
a TenantTasks' `Registered` its tenant; a Plan is its own plan. `Attribution`
builds a batch's records with those headers (`ce_tenantid`, `ce_planid`) on
every message of the aggregate, taken

- from the first events in the batch itself (a relay that follows the log
  meets each task's `Created` before its other events, so it never queries);
- else from what earlier batches met (a bounded least-recently-used memory);
- else from the store: one query per batch reads the first events of all the
  batch's aggregates not known yet (a relay that starts mid-log, republishes
  with `--from`, or has forgotten them).

Stored events never change, so nothing remembered goes stale, and nothing stored
had to change: events recorded before this existed get the headers on
republish too. (The scheduler's queue rows hold each task's tenant and plan as
well, but they are the scheduler's working state and know no TenantTasks; the
topic is derived from the event store, and so are its headers.)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, Notification, StoredEvent, Transcoder
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg import sql

from switchyard.adapters.kafka.format import (
    UNATTRIBUTED,
    KafkaRecord,
    aggregate_type_of,
    field_headers,
    to_record,
)

OWN_HEADERS: Mapping[str, tuple[str, ...]] = {
    "Task": ("ce_tenantid", "ce_planid"),
    "TenantTasks": ("ce_tenantid",),
}
"""Per aggregate type, the headers its first event gives all its messages. (A TenantTasks'
`TaskAssigned` names the plan of one task, not the aggregate's: it keeps its own.)"""

PLAN = "Plan"
"""The aggregate type whose id is its messages' `ce_planid`."""

ALWAYS_SENT: Mapping[str, tuple[str, ...]] = {**OWN_HEADERS, PLAN: ("ce_planid",)}
"""Per aggregate type, the attribution headers every one of its messages carries."""

MEMORY_SIZE = 50_000
"""How many aggregates' headers are remembered between batches."""

FIRST_VERSION = 1
"""The version of an aggregate's first event."""

AggregateId = UUID | str
"""An aggregate id as the store gives it."""

Headers = Mapping[str, bytes]
"""Header names and values."""


class FirstEvents(Protocol):
    """Reads aggregates' first stored events."""

    def __call__(self, aggregate_ids: Sequence[AggregateId]) -> Sequence[StoredEvent]:
        """The stored first event of each of these aggregates that has one, in one query
        where the store allows it."""


class Attribution:
    """Builds records whose messages carry their aggregate's tenant and plan."""

    def __init__(
        self, transcoder: Transcoder, first_events: FirstEvents, memory_size: int = MEMORY_SIZE
    ) -> None:
        self._transcoder = transcoder
        self._first_events = first_events
        self._memory_size = memory_size
        self._known: OrderedDict[AggregateId, Headers] = OrderedDict()

    def records(self, notifications: Sequence[Notification]) -> list[KafkaRecord]:
        """The batch's records, in order, each with its aggregate's attribution headers."""
        batch = self._recall(notifications)
        records = []
        for notification in notifications:
            kind = aggregate_type_of(notification.topic)
            attribution: Headers
            if kind == PLAN:
                attribution = {"ce_planid": str(notification.originator_id).encode()}
            else:
                attribution = batch.get(notification.originator_id, UNATTRIBUTED)
            record = to_record(notification, self._transcoder, attribution)
            if notification.originator_version == FIRST_VERSION and kind in OWN_HEADERS:
                own = _own(kind, dict(record.headers))
                batch[notification.originator_id] = own
                self._remember(notification.originator_id, own)
            records.append(record)
        return records

    def _recall(self, notifications: Sequence[Notification]) -> dict[AggregateId, Headers]:
        """The attribution of the batch's aggregates whose first event is not in the batch:
        remembered, else read from their first events (all in one call)."""
        topics = {n.originator_id: n.topic for n in notifications}
        firsts = {n.originator_id for n in notifications if n.originator_version == FIRST_VERSION}
        batch: dict[AggregateId, Headers] = {}
        missing: list[AggregateId] = []
        for aggregate_id, topic in topics.items():
            if aggregate_id in firsts or aggregate_type_of(topic) not in OWN_HEADERS:
                continue
            known = self._known.get(aggregate_id)
            if known is None:
                missing.append(aggregate_id)
            else:
                self._known.move_to_end(aggregate_id)
                batch[aggregate_id] = known
        if missing:
            batch.update(self._read_first_events(missing))
        return batch

    def _read_first_events(self, aggregate_ids: list[AggregateId]) -> dict[AggregateId, Headers]:
        found: dict[AggregateId, Headers] = {}
        for event in self._first_events(aggregate_ids):
            headers = field_headers(event.state, self._transcoder)
            found[event.originator_id] = _own(aggregate_type_of(event.topic), headers)
        for aggregate_id in aggregate_ids:
            # An aggregate cannot lack its first event (its later ones are in the log);
            # if one did, it would be asked for once, not in every batch.
            self._remember(aggregate_id, found.setdefault(aggregate_id, UNATTRIBUTED))
        return found

    def _remember(self, aggregate_id: AggregateId, own: Headers) -> None:
        self._known[aggregate_id] = own
        self._known.move_to_end(aggregate_id)
        if len(self._known) > self._memory_size:
            self._known.popitem(last=False)


def _own(aggregate_type: str, headers: Headers) -> Headers:
    """Of a first event's headers, those that hold for all its aggregate's messages."""
    names = OWN_HEADERS.get(aggregate_type, ())
    return MappingProxyType({name: headers[name] for name in names if name in headers})


def first_events(recorder: AggregateRecorder) -> FirstEvents:
    """How to read first events from this store: one query on PostgreSQL, else one each."""
    if isinstance(recorder, PostgresAggregateRecorder):
        return PostgresFirstEvents(recorder)
    return _each_first_event(recorder)


def _each_first_event(recorder: AggregateRecorder) -> FirstEvents:
    def read(aggregate_ids: Sequence[AggregateId]) -> Sequence[StoredEvent]:
        return [e for i in aggregate_ids for e in recorder.select_events(i, lte=FIRST_VERSION)]

    return read


class PostgresFirstEvents:
    """Reads first events from the library's events table, any number in one query."""

    def __init__(self, recorder: PostgresAggregateRecorder) -> None:
        self._datastore = recorder.datastore
        self._select = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) AND originator_version = {first}"
        ).format(
            schema=sql.Identifier(recorder.datastore.schema or "public"),
            table=sql.Identifier(recorder.events_table_name),
            first=sql.Literal(FIRST_VERSION),
        )

    def __call__(self, aggregate_ids: Sequence[AggregateId]) -> Sequence[StoredEvent]:
        """The first events of these aggregates (by the primary key's index)."""
        with self._datastore.transaction(commit=False) as curs:
            curs.execute(self._select, (list(aggregate_ids),))
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]
