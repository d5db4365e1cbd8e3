"""Building a plan's next chunk while the store writes the last one.

A store writes a chunk with COPY and waits for the server to take it in,
about as long as building a chunk takes; done in turn, the client and the
server each idle half the time. `built_ahead` runs the building (an iterator)
in a thread of its own, at most `depth` items ahead of the consumer, so the
server takes in one chunk while the next is built (waiting on the socket
releases the GIL). Memory stays bounded: `depth` chunks wait at most.

The builder runs in a copy of the caller's context (the trace context that
the encoder reads goes with it). Its exception is raised in the consumer, in
order, after the items built before it; a consumer that stops early (an
error while writing) stops the builder before it builds another item.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1
"""How often a builder blocked on a full queue checks whether the consumer stopped."""


class _Done:
    """The builder's last item: the end of the items, or the exception that ended them."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def built_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """The items, built in another thread at most `depth` ahead of the caller's reading."""
    handed: queue.Queue[T | _Done] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def hand(item: T | _Done) -> bool:
        while not stopped.is_set():
            try:
                handed.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def build() -> None:
        try:
            for item in items:
                if not hand(item):
                    return
        except BaseException as error:  # handed on to the consumer, raised there
            hand(_Done(error))
        else:
            hand(_Done())

    context = contextvars.copy_context()
    builder = threading.Thread(target=context.run, args=(build,), name="plan-chunks", daemon=True)
    builder.start()
    try:
        while not isinstance(item := handed.get(), _Done):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stopped.set()
        builder.join()
