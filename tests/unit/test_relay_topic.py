"""Noticing a topic created anew from the broker's acknowledgements: offsets never go back."""

from __future__ import annotations

from aiokafka.structs import RecordMetadata, TopicPartition

from switchyard.adapters.relay.topic import AckedOffsets


def acks(*offsets: tuple[int, int]) -> list[RecordMetadata]:
    """Acknowledgements at (partition, offset)."""
    return [RecordMetadata("t", p, TopicPartition("t", p), o, -1, -1, 0) for p, o in offsets]


def test_offsets_that_keep_growing_are_no_reset() -> None:
    acked = AckedOffsets()
    assert not acked.went_back(acks((0, 0), (0, 1), (1, 0)))
    assert not acked.went_back(acks((0, 2), (1, 1), (2, 0)))


def test_an_offset_at_or_below_an_acknowledged_one_is_a_reset() -> None:
    acked = AckedOffsets()
    assert not acked.went_back(acks((0, 5), (1, 7)))
    assert acked.went_back(acks((1, 8), (0, 0)))
    acked = AckedOffsets()  # a new session's
    assert not acked.went_back(acks((0, 0)))
    assert acked.went_back(acks((0, 0)))
