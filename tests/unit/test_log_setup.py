"""A role's logs: JSON lines in its file, bound context on them, a short terminal copy,
and no secrets anywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import ValidationError
from structlog.contextvars import bound_contextvars

from switchyard.adapters.api.tokens import new_token
from switchyard.adapters.logs import LIFECYCLE, configure_logging
from switchyard.adapters.settings import Settings
from tests.support.logs import json_lines, logging_restored
from tests.support.waiting import wait_until

log = logging.getLogger("switchyard.test")


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    """Put the process's logging back as it was after each test."""
    with logging_restored():
        yield


def configured(
    tmp_path: Path, log_format: str = "auto", **settings: Any
) -> tuple[Path, io.StringIO]:
    """Logging of a `scheduler` role on a data folder in `tmp_path`; its file and terminal."""
    terminal = io.StringIO()
    data = Settings(data_dir=tmp_path / "data", log_format=log_format, **settings)
    return configure_logging("scheduler", data, terminal=terminal), terminal


def test_the_file_is_in_the_data_folder_and_holds_one_json_object_per_line(
    tmp_path: Path,
) -> None:
    path, _ = configured(tmp_path)
    log.info("task %s: claimed", "t-1")
    structlog.get_logger("switchyard.native").info("stage passed", stage="One")
    assert path == tmp_path / "data" / "logs" / "scheduler.log"
    first, second = json_lines(path)
    assert list(first)[:4] == ["time", "level", "logger", "event"]
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert (first["level"], first["logger"], first["event"]) == (
        "info",
        "switchyard.test",
        "task t-1: claimed",
    )
    assert (second["event"], second["stage"]) == ("stage passed", "One")


def test_a_file_moved_away_is_reopened_under_its_name(tmp_path: Path) -> None:
    path, _ = configured(tmp_path)
    log.info("before the move")
    moved = path.with_name("scheduler.log.1")
    path.rename(moved)

    def logged_anew() -> bool:
        log.info("after the move")
        return path.exists()

    wait_until(logged_anew, what="the log file reopened under its name")
    assert json_lines(moved)[0]["event"] == "before the move"
    assert {line["event"] for line in json_lines(path)} == {"after the move"}


def test_bound_context_is_on_every_line_while_bound_and_only_then(tmp_path: Path) -> None:
    path, _ = configured(tmp_path)
    with bound_contextvars(plan="p-1", task="t-1", tenant="acme", sequence=42):
        log.info("claimed")
        log.warning("lease lost")
    log.info("idle")
    claimed, lost, idle = json_lines(path)
    context = {"plan": "p-1", "task": "t-1", "tenant": "acme", "sequence": 42}
    assert context.items() <= claimed.items() and context.items() <= lost.items()
    assert not {"plan", "task", "tenant", "sequence"} & idle.keys()


def test_an_error_line_holds_its_traceback_and_error_id(tmp_path: Path) -> None:
    path, _ = configured(tmp_path)
    try:
        raise RuntimeError("broken")
    except RuntimeError:
        log.exception("unexpected error", extra={"error_id": "e-1"})
    (line,) = json_lines(path)
    assert line["error_id"] == "e-1" and line["level"] == "error"
    assert "Traceback" in line["exception"] and "RuntimeError: broken" in line["exception"]


def test_the_terminal_gets_warnings_and_start_stop_lines_only_in_plain_console_lines(
    tmp_path: Path,
) -> None:
    path, terminal = configured(tmp_path, log_format="console")
    with bound_contextvars(tenant="acme"):
        log.info("task claimed")
        log.info("scheduler started", extra=LIFECYCLE)
        try:
            raise RuntimeError("broker down")
        except RuntimeError:
            log.warning("relay: broker unavailable", exc_info=True)
    shown = terminal.getvalue().splitlines()
    assert len(shown) == 2, shown
    assert shown[0].endswith(" info scheduler started tenant=acme")
    assert (
        " warning relay: broker unavailable tenant=acme error=RuntimeError: broker down"
        in (shown[1])
    )
    assert "Traceback" not in terminal.getvalue()
    assert len(json_lines(path)) == 3  # the file has every line, as JSON


def test_auto_format_writes_json_to_a_terminal_that_is_not_a_tty(tmp_path: Path) -> None:
    _, terminal = configured(tmp_path)
    log.warning("careful", extra=LIFECYCLE)
    assert json.loads(terminal.getvalue())["event"] == "careful"


def test_log_level_filters_the_file_and_quiet_libraries_stay_quiet(tmp_path: Path) -> None:
    path, _ = configured(tmp_path, log_level="warning")
    log.info("not written")
    logging.getLogger("aiokafka.conn").error("connection refused")
    log.warning("written")
    assert [line["event"] for line in json_lines(path)] == ["written"]


def test_tokens_authorization_and_url_passwords_are_redacted(tmp_path: Path) -> None:
    path, terminal = configured(tmp_path, log_format="console")
    token = new_token()
    with bound_contextvars(authorization=f"Bearer {token}"):
        log.warning("refused Authorization: Bearer %s", token)
        log.warning("token %s unknown", token)
        log.warning("store at postgresql://switchyard:hunter2@db:5432/events")
    written = path.read_text() + terminal.getvalue()
    assert token not in written and "hunter2" not in written
    assert "[redacted]" in written and "postgresql://switchyard:[redacted]@db" in written


def test_a_bad_log_level_or_format_is_a_settings_error() -> None:
    for wrong in ({"log_level": "loud"}, {"log_format": "xml"}):
        with pytest.raises(ValidationError) as refused:
            Settings(**wrong)  # type: ignore[arg-type]
        assert refused.value.errors()[0]["type"] == "literal_error"
