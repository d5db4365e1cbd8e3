"""Thread-safe counts by key (breaker opens per target, suppressed notifications per type).

They serve logs and tests; metrics hear of the same events through the Meter
(`application.metrics`).
"""

from __future__ import annotations

import threading
from collections import Counter


class Counts:
    """Named counters that many threads may increment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def increment(self, key: str) -> None:
        """Add one to the key's count."""
        with self._lock:
            self._counts[key] += 1

    def get(self, key: str) -> int:
        """The key's count (0 if never incremented)."""
        with self._lock:
            return self._counts[key]
