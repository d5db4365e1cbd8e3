"""A fake monotonic clock for tests: only the sleeps it is given move it forward."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock that the sleeps it is given move forward, and a record of them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the wait and let that much time pass."""
        self.slept.append(seconds)
        self.now += seconds
