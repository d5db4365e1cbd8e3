"""The group-commit queue without a database: who shares a group, and who hears what."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from switchyard.adapters.postgres.group_commit import GroupCommit, PendingSave
from switchyard.application.guards import WriteGuards

TIMEOUT = 30.0


def pending(aggregate: UUID, events: int = 1) -> PendingSave:
    """A save of `events` events of one aggregate."""
    stored = [StoredEvent(aggregate, v, "topic", b"{}") for v in range(1, events + 1)]
    return PendingSave(stored, WriteGuards(), ())


class Writer:
    """Records each group and numbers its events, as the store would."""

    def __init__(self, refuse: UUID | None = None) -> None:
        self.groups: list[list[PendingSave]] = []
        self.refuse = refuse
        self.next_id = 1

    def __call__(self, group: list[PendingSave]) -> None:
        self.groups.append(group)
        for save in group:
            if self.refuse in save.aggregates:
                save.refuse(ValueError("refused"))
                continue
            save.ids = list(range(self.next_id, self.next_id + len(save.events)))
            self.next_id += len(save.events)


def save_together(commit: GroupCommit, saves: list[PendingSave]) -> list[object]:
    """Save each in its own thread, released together; each one's ids or error."""
    barrier = threading.Barrier(len(saves))
    outcomes: list[object] = [None] * len(saves)

    def run(index: int) -> None:
        barrier.wait(TIMEOUT)
        try:
            outcomes[index] = commit.save(saves[index])
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(saves))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    return outcomes


def test_saves_queued_within_the_window_share_one_group() -> None:
    writer = Writer()
    commit = GroupCommit(writer, window_ms=TIMEOUT * 1000, max_saves=5)
    outcomes = save_together(commit, [pending(uuid4(), 2) for _ in range(5)])
    assert len(writer.groups) == 1
    ids = [i for outcome in outcomes if isinstance(outcome, list) for i in outcome]
    assert sorted(ids) == list(range(1, 11))


def test_two_saves_of_one_aggregate_never_share_a_group() -> None:
    writer = Writer()
    commit = GroupCommit(writer, window_ms=TIMEOUT * 1000, max_saves=3)
    same = uuid4()
    save_together(commit, [pending(same), pending(uuid4()), pending(same)])
    assert [len(group) for group in writer.groups] == [2, 1]


def test_a_group_takes_no_more_than_its_most() -> None:
    writer = Writer()
    commit = GroupCommit(writer, window_ms=0, max_saves=2)
    save_together(commit, [pending(uuid4()) for _ in range(8)])
    assert all(len(group) <= 2 for group in writer.groups)
    assert sum(len(group) for group in writer.groups) == 8


def test_a_refused_save_fails_alone() -> None:
    refused = uuid4()
    writer = Writer(refuse=refused)
    commit = GroupCommit(writer, window_ms=TIMEOUT * 1000, max_saves=3)
    outcomes = save_together(commit, [pending(uuid4()), pending(refused), pending(uuid4())])
    assert isinstance(outcomes[1], ValueError)
    assert all(isinstance(outcome, list) for outcome in (outcomes[0], outcomes[2]))


def test_with_no_window_a_lone_save_is_written_at_once() -> None:
    writer = Writer()
    commit = GroupCommit(writer, window_ms=0, max_saves=64)
    assert commit.save(pending(uuid4(), 3)) == [1, 2, 3]


def test_a_writer_that_breaks_fails_its_group_and_leaves_the_queue_usable() -> None:
    writer = Writer()
    calls = []

    def breaks_once(group: list[PendingSave]) -> None:
        calls.append(group)
        if len(calls) == 1:
            raise RuntimeError("the store broke")
        writer(group)

    commit = GroupCommit(breaks_once, window_ms=0)
    with pytest.raises(RuntimeError):
        commit.save(pending(uuid4()))
    assert commit.save(pending(uuid4())) == [1]


def test_a_save_its_writer_left_undecided_fails_instead_of_waiting() -> None:
    commit = GroupCommit(lambda group: None, window_ms=0)
    with pytest.raises(RuntimeError):
        commit.save(pending(uuid4()))
