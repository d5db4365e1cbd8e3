"""Tests that configure a role's logging: the process's logging put back afterwards, and
the JSON lines read back."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from structlog.contextvars import clear_contextvars

from switchyard.adapters.logs import QUIET


@contextmanager
def logging_restored() -> Iterator[None]:
    """Put the root logger, the quieted libraries and structlog back as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET}
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)
        structlog.reset_defaults()
        clear_contextvars()


def json_lines(path: Path) -> list[dict[str, Any]]:
    """A log file's lines, each parsed (every complete line must be a JSON object)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
