"""A plan's events as Server-Sent Events: followed in the event store until the plan finishes.

Each event is one SSE message: `id` its sequence (notification id), `event` its
type, `data` its audit representation (`AuditEventOut`, the same as the audit
trail's). Events come from the event store (`adapters.postgres.aggregate_log`), so
a stream never waits for Kafka or the read tables. Once every task the stream
follows is finished (none in an unfinished status) and no event of theirs is left,
an `end` message (no id) says so and the stream closes. Tasks record no heartbeat
events (leases are kept in the scheduler's rows), so the response's keep-alive
comments are the stream's heartbeats.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

import anyio
from anyio import to_thread
from eventsourcing.persistence import Notification, Transcoder
from sse_starlette import ServerSentEvent

from switchyard.adapters.api.read_schemas import AuditEventOut
from switchyard.adapters.kafka.format import aggregate_type_of, to_record
from switchyard.adapters.postgres.aggregate_log import AggregateLog
from switchyard.domain.status import UNFINISHED, TaskStatus, derive_plan_status
from switchyard.projections.events import from_message

SEPARATOR = "\n"
"""The line separator of every message."""

END = "end"
"""The `event` of the message that closes the stream of a finished plan."""


@dataclass(frozen=True)
class FollowedPlan:
    """A plan and the tasks a stream follows (those its token may see), with their tenants;
    the plan's own events too unless the token is limited to some tenants (they name every
    tenant and task of the plan)."""

    plan_id: UUID
    tenants: Mapping[UUID, str]
    whole_plan: bool = True

    @property
    def aggregate_ids(self) -> list[UUID]:
        """The followed tasks' ids, after the plan's own if it is followed."""
        return [*([self.plan_id] if self.whole_plan else []), *self.tenants]


class PlanEvents:
    """Follows one plan's events in the event store, as SSE messages."""

    def __init__(
        self,
        log: AggregateLog,
        transcoder: Transcoder,
        plan: FollowedPlan,
        poll_seconds: float,
        stopping: Callable[[], bool],
    ) -> None:
        self._log = log
        self._transcoder = transcoder
        self._plan = plan
        self._poll_seconds = poll_seconds
        self._stopping = stopping

    async def messages(self, after: int) -> AsyncIterator[ServerSentEvent]:
        """The plan's events after sequence `after`, in order; then `end` once it finishes.

        When the service stops, the stream closes without `end`: the client resumes
        from its last id on another server, or on this one once it is back.
        """
        ids = self._plan.aggregate_ids
        tasks = list(self._plan.tenants)
        statuses = await to_thread.run_sync(self._log.task_statuses, tasks)
        last = after
        while not self._stopping():
            page = await to_thread.run_sync(self._log.read, ids, after)
            for notification in page.events:
                yield self.message(notification)
                last = notification.id
            after = page.scanned
            seen = {_uuid(n.originator_id) for n in page.events}
            touched = [task for task in tasks if task in seen]
            if touched:
                # Read after the events: a status at least as new as the last of them.
                statuses.update(await to_thread.run_sync(self._log.task_statuses, touched))
            if page.full:
                continue
            if self._finished(statuses):
                if not page.events:
                    yield self._end(statuses, last)
                    return
                continue  # read once more: an event after the statuses were read reopens it
            await anyio.sleep(self._poll_seconds)

    def message(self, notification: Notification) -> ServerSentEvent:
        """One stored event as an SSE message."""
        event = audit_event(notification, self._transcoder, self._plan)
        return ServerSentEvent(
            event.model_dump_json(by_alias=True),
            id=str(event.sequence),
            event=event.event_type,
            sep=SEPARATOR,
        )

    def _finished(self, statuses: Mapping[UUID, str]) -> bool:
        found = [statuses.get(task) for task in self._plan.tenants]
        return all(status is not None and status not in UNFINISHED for status in found)

    def _end(self, statuses: Mapping[UUID, str], last: int) -> ServerSentEvent:
        status = derive_plan_status(TaskStatus(s) for s in statuses.values())
        data = {"planId": str(self._plan.plan_id), "status": str(status), "sequence": last}
        return ServerSentEvent(json.dumps(data), event=END, sep=SEPARATOR)


def audit_event(
    notification: Notification, transcoder: Transcoder, plan: FollowedPlan
) -> AuditEventOut:
    """A stored event of the plan or one of its tasks as the audit trail shows it."""
    attribution = {"ce_planid": str(plan.plan_id).encode()}
    tenant = plan.tenants.get(_uuid(notification.originator_id))
    if aggregate_type_of(notification.topic) == "Task" and tenant is not None:
        attribution["ce_tenantid"] = tenant.encode()
    record = to_record(notification, transcoder, attribution)
    event = from_message(record.headers, record.value)
    return AuditEventOut(
        sequence=event.sequence,
        time=event.time,
        actor=event.actor,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        version=event.version,
        event_type=event.name,
        tenant_id=event.tenant_id,
        plan_id=event.plan_id,
        traceparent=event.traceparent,
        payload=dict(event.payload),
    )


def _uuid(aggregate_id: UUID | str) -> UUID:
    return aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id)
