"""Structured logs: each role's lines as JSON in `<data dir>/logs/<role>.log`, a short copy
on the terminal.

structlog renders every stdlib `logging` record, switchyard's and the libraries'
(`ProcessorFormatter`), so modules keep `logging.getLogger(__name__)`. Context
bound with `structlog.contextvars` (plan, task, tenant, sequence, request id)
is on every line logged while it is bound. The file gets every line at
LOG_LEVEL as one JSON object: time (ISO, UTC), level, logger, event, the bound
context and, for an error, its traceback. The terminal gets warnings, errors
and the role's start and stop lines only: plain text on a TTY, JSON otherwise
(LOG_FORMAT). Bearer tokens, API tokens, Authorization values and passwords in
URLs are redacted before anything is written.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import WatchedFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import structlog
from structlog.contextvars import merge_contextvars
from structlog.stdlib import ExtraAdder, ProcessorFormatter
from structlog.typing import EventDict, Processor, WrappedLogger

if TYPE_CHECKING:
    from switchyard.adapters.settings import Settings

log = logging.getLogger(__name__)

REOPEN_CHECK_SECONDS = 1.0
"""How often, at most, the log file is looked for under its name (moved: reopened)."""


class MovableFile(WatchedFileHandler):
    """A log file that logrotate may move away: reopened under its name when it was, like
    `WatchedFileHandler`, but looked for at most once a `REOPEN_CHECK_SECONDS` instead of
    on every line (a `stat` each line cost the API a tenth of its event loop's time).
    Lines written in between go to the moved file, which logrotate keeps."""

    _checked = 0.0

    def reopenIfNeeded(self) -> None:
        """Reopen the file if it was moved, if not looked for within the last second."""
        now = time.monotonic()
        if now - self._checked >= REOPEN_CHECK_SECONDS:
            self._checked = now
            super().reopenIfNeeded()


LIFECYCLE = {"lifecycle": True}
"""`extra=` of a role's start and stop lines: the terminal shows them besides warnings."""

QUIET = {"aiokafka": logging.CRITICAL, "alembic": logging.WARNING}
"""Libraries kept to their serious lines: aiokafka logs every failed connection attempt
(the relay reports an outage itself, once), and switchyard says what it migrated."""

FIRST = ("time", "level", "logger", "event")
"""The keys every JSON line starts with, in this order."""

REDACTED = "[redacted]"
"""What a secret is replaced with."""

SECRET_KEYS = frozenset({"authorization", "token", "password", "cookie", "api_tokens"})
"""Bound keys whose values are never written."""

SECRETS = (
    (re.compile(r"\b(bearer)\s+[^\s\"',]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    (re.compile(r"\bsy_[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"(://[^:/@\s]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
)
"""Secrets inside text: a bearer credential, an API token (`sy_...`), a URL's password."""

_MAYBE_SECRET = re.compile(r"bearer|sy_|://", re.IGNORECASE)
"""What text must hold for one of `SECRETS` to match in it: one scan of a value for these
decides whether the substitutions run (they were a third of an access line's cost)."""

EXTRAS = ("error_id", "status", "duration_ms")
"""The `extra=` keys of a stdlib record that become fields of its line."""

_OURS = "switchyard_role_handler"


def log_file(role: str, settings: Settings) -> Path:
    """Where a role's log lines go: `<data dir>/logs/<role>.log`."""
    return settings.data_dir.expanduser() / "logs" / f"{role}.log"


def configure_logging(role: str, settings: Settings, terminal: TextIO | None = None) -> Path:
    """Send the process's log lines to the role's file (JSON) and a short copy to the
    terminal (stderr unless `terminal`); the file's path."""
    path = log_file(role, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    structlog.configure(
        processors=[*_context(), ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    stream = terminal or sys.stderr
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not stream.isatty()
    )
    to_file = MovableFile(path, encoding="utf-8")  # logrotate may move the file
    to_file.setFormatter(formatter(json_lines=True))
    to_terminal = logging.StreamHandler(stream)
    to_terminal.addFilter(for_terminal)
    to_terminal.setFormatter(formatter(json_lines=as_json))
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()
    for handler in (to_file, to_terminal):
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    return path


@contextmanager
def role_logs(role: str, settings: Settings) -> Iterator[Path]:
    """Configure the role's logging and log its start and stop; yields the log file."""
    path = configure_logging(role, settings)
    log.info("%s started (pid %d); logs in %s", role, os.getpid(), path, extra=LIFECYCLE)
    try:
        yield path
    finally:
        log.info("%s stopped", role, extra=LIFECYCLE)


def for_terminal(record: logging.LogRecord) -> bool:
    """Whether the terminal shows the line: a warning or worse, or a start or stop line."""
    return record.levelno >= logging.WARNING or bool(getattr(record, "lifecycle", False))


def formatter(json_lines: bool) -> ProcessorFormatter:
    """A formatter of stdlib records and structlog events: JSON lines or plain text."""
    rendering: list[Processor] = (
        [structlog.processors.format_exc_info, redact, ordered, structlog.processors.JSONRenderer()]
        if json_lines
        else [exception_summary, redact, plain_line]
    )
    return ProcessorFormatter(
        foreign_pre_chain=[*_context(), ExtraAdder(allow=EXTRAS)],
        processors=[ProcessorFormatter.remove_processors_meta, *rendering],
    )


def _context() -> list[Processor]:
    return [
        merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]


def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace secret values and secrets inside text with `[redacted]`."""
    for key, value in event_dict.items():
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(value, str) and _MAYBE_SECRET.search(value):
            for pattern, replacement in SECRETS:
                value = pattern.sub(replacement, value)
            event_dict[key] = value
    return event_dict


def ordered(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The event with time, level, logger and event first."""
    first = {key: event_dict.pop(key) for key in FIRST if key in event_dict}
    return {**first, **event_dict}


def exception_summary(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """The exception as one `error` value (`Type: message`): the file has the traceback."""
    exc_info: Any = event_dict.pop("exc_info", None)
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if exc is True:
        exc = sys.exc_info()[1]
    if isinstance(exc, BaseException):
        event_dict["error"] = traceback.format_exception_only(exc)[-1].strip()
    return event_dict


def plain_line(_: WrappedLogger, __: str, event_dict: EventDict) -> str:
    """`HH:MM:SS level event key=value ...` (no logger name: the terminal copy is short)."""
    time = str(event_dict.pop("time", ""))[11:19]
    level = str(event_dict.pop("level", ""))
    event = str(event_dict.pop("event", ""))
    event_dict.pop("logger", None)
    pairs = "".join(f" {key}={value}" for key, value in event_dict.items())
    return f"{time} {level} {event}{pairs}"
