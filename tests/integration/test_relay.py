"""The relay on a real PostgreSQL and a real Kafka-protocol broker (embedded tansu by default).

Every stored event arrives once (after dropping duplicates by aggregate id and
version), each aggregate's in version order, sequences increasing per
partition; only one of two relays publishes; `--from` republishes; every
message names its aggregate's tenant and plan.
"""

from __future__ import annotations

from dataclasses import replace

from switchyard.adapters.relay.config import RelayConfig
from switchyard.application.app import Switchyard
from tests.support.builders import plan_request
from tests.support.kafka import (
    assert_complete_and_ordered,
    caught_up,
    consume,
    running,
    stored_events,
    unattributed,
    write_events,
)
from tests.support.waiting import wait_until


def test_every_stored_event_is_published_once_in_order(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    with running(pg_env, config) as relay:
        write_events(pg_app)
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    stored = stored_events(pg_app)
    assert len(stored) > 300
    messages = consume(config, len(stored))
    assert len(messages) == len(stored)
    assert len({m.partition for m in messages}) == config.partitions
    assert_complete_and_ordered(messages, pg_app)


def test_only_one_of_two_relays_publishes_and_the_other_takes_over(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    with running(pg_env, config) as first:
        wait_until(lambda: first.active, what="the first relay active")
        with running(pg_env, config) as second:
            pg_app.create_plan(plan_request("a", "b", "c"), actor="alice")
            wait_until(lambda: caught_up(first, pg_app), what="the first relay caught up")
            assert first.active
            assert not second.active
            assert second.position == 0
            first_stop = first
        assert first_stop.active
    with running(pg_env, config) as third, running(pg_env, config) as fourth:
        wait_until(lambda: third.active or fourth.active, what="a relay active")
        write_events(pg_app)
        wait_until(
            lambda: caught_up(third, pg_app) or caught_up(fourth, pg_app),
            what="the active relay caught up",
        )
        assert third.active != fourth.active
    stored = stored_events(pg_app)
    messages = consume(config, len(stored))
    assert len(messages) == len(stored)  # graceful hand-overs: no duplicates at all
    assert_complete_and_ordered(messages, pg_app)


def test_from_republishes_from_a_sequence(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    pg_app.create_plan(plan_request("a", "b", "c", "d"), actor="alice")
    with running(pg_env, config) as relay:
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    stored = stored_events(pg_app)
    start = stored[len(stored) // 2][2]
    with running(pg_env, config, start_from=start) as relay:
        wait_until(lambda: relay.position > 0 and caught_up(relay, pg_app), what="republished")
    again = [i for _, _, i in stored if i >= start]
    messages = consume(config, len(stored) + len(again))
    assert len(messages) == len(stored) + len(again)
    sequences = sorted(int(m.headers["ce_sequence"]) for m in messages)
    assert sequences == sorted([i for _, _, i in stored] + again)
    assert_complete_and_ordered(messages, pg_app)


def test_a_compressing_relay_publishes_what_consumers_read(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    gzip = replace(config, compression="gzip", max_batch_bytes=4_096)
    with running(pg_env, gzip) as relay:
        write_events(pg_app)
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    stored = stored_events(pg_app)
    assert_complete_and_ordered(consume(gzip, len(stored)), pg_app)


def test_every_message_names_its_tenant_and_plan_live_and_republished(
    pg_app: Switchyard, pg_env: dict[str, str], config: RelayConfig
) -> None:
    with running(pg_env, config) as relay:
        write_events(pg_app)
        wait_until(lambda: caught_up(relay, pg_app), what="the relay caught up")
    stored = stored_events(pg_app)
    start = stored[len(stored) // 2][2]  # after every Created: a new reader must look them up
    with running(pg_env, config, start_from=start) as relay:
        wait_until(lambda: relay.position > 0 and caught_up(relay, pg_app), what="republished")
    again = [i for _, _, i in stored if i >= start]
    messages = consume(config, len(stored) + len(again))
    assert len(messages) == len(stored) + len(again)
    task_types = {m.headers["ce_type"] for m in messages if m.headers["ce_aggregatetype"] == "Task"}
    assert {"switchyard.task.Created", "switchyard.task.StageCompleted"} <= task_types
    assert unattributed([m.headers for m in messages], pg_app) == []
