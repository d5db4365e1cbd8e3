"""How many event streams each token holds open, so that one client cannot hold them all.

`EventStreams` is kept on the app's state; a stream takes a slot when it opens and
gives it back when it ends, however it ends (finished plan, client gone, error).
"""

from __future__ import annotations

import threading
from collections import Counter

from fastapi import Request


class EventStreams:
    """Counts the open streams of each token against a limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, token_id: str) -> bool:
        """Take a slot for the token, unless it holds `limit` streams already."""
        with self._lock:
            if self._open[token_id] >= self._limit:
                return False
            self._open[token_id] += 1
            return True

    def give_back(self, token_id: str) -> None:
        """Give back a slot the token took."""
        with self._lock:
            self._open[token_id] -= 1
            if self._open[token_id] <= 0:
                del self._open[token_id]

    def open_streams(self, token_id: str) -> int:
        """How many streams the token holds open now."""
        with self._lock:
            return self._open[token_id]


def event_streams(request: Request) -> EventStreams:
    """The app's stream counter."""
    found: EventStreams = request.app.state.streams
    return found
