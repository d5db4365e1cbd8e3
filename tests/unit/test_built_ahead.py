"""Items built in a thread of their own, ahead of the reader: in order, errors in turn."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextvars import ContextVar

import pytest

from switchyard.application.built_ahead import built_ahead

_where: ContextVar[str] = ContextVar("where", default="nowhere")


class Broken(Exception):
    """What the builder meets."""


def test_the_items_come_in_order_from_another_thread() -> None:
    threads: set[str] = set()

    def items() -> Iterator[int]:
        for n in range(50):
            threads.add(threading.current_thread().name)
            yield n

    assert list(built_ahead(items(), depth=2)) == list(range(50))
    assert threading.current_thread().name not in threads


def test_the_builder_runs_in_the_callers_context() -> None:
    token = _where.set("the caller's trace")
    try:
        assert list(built_ahead(_where.get() for _ in range(3))) == ["the caller's trace"] * 3
    finally:
        _where.reset(token)


def test_a_builder_error_comes_after_the_items_built_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise Broken

    got: list[int] = []
    with pytest.raises(Broken):
        for n in built_ahead(items()):
            got.append(n)
    assert got == [1, 2]


def test_a_reader_that_stops_stops_the_builder() -> None:
    built: list[int] = []

    def items() -> Iterator[int]:
        for n in range(1_000):
            built.append(n)
            yield n

    ahead = built_ahead(items(), depth=1)
    assert next(ahead) == 0
    ahead.close()  # joins the builder
    assert len(built) <= 3, "the builder went on after the reader stopped"
