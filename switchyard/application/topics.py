"""Old topics of stored events, resolved to today's classes.

A stored event names its class by module path (`domain.task:Task.Started`),
so the path is part of the stored data. The aggregates lived in top-level
`domain` modules before they moved into the `switchyard` package; events
stored then still name the old paths, and resolve through this table. A
class that moves again gets its old topic added here; a test replays the
recorded histories (`tests/fixtures/histories/`) to prove it.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from switchyard.domain.plan import Plan
from switchyard.domain.task import Task
from switchyard.domain.tenant import TenantTasks

MOVED: dict[str, type] = {
    "domain.plan:Plan": Plan,
    "domain.task:Task": Task,
    "domain.tenant:TenantTasks": TenantTasks,
}
"""Each old aggregate topic and the class it names now (its events follow it)."""


def register_moved_topics() -> None:
    """Make the old topics resolve to the moved classes (safe to call again)."""
    for topic, cls in MOVED.items():
        register_topic(topic, cls)
