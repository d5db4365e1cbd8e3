"""The per-token count of open event streams: a limit per token, slots given back."""

from __future__ import annotations

from switchyard.adapters.api.streams import EventStreams


def test_each_token_may_hold_up_to_the_limit() -> None:
    streams = EventStreams(limit=2)
    assert streams.take("a") and streams.take("a")
    assert not streams.take("a")
    assert streams.take("b")
    assert (streams.open_streams("a"), streams.open_streams("b")) == (2, 1)


def test_a_slot_given_back_can_be_taken_again() -> None:
    streams = EventStreams(limit=1)
    assert streams.take("a")
    streams.give_back("a")
    assert streams.open_streams("a") == 0
    assert streams.take("a")
