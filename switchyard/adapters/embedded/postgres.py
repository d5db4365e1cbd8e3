"""An embedded PostgreSQL server from the `pgserver` wheel, kept in a data folder.

The server listens on a Unix socket in its data folder and survives restarts of
switchyard: the next start finds it running (or starts it on the same data).
pgserver logs every command it runs with its whole output (initdb's dozens of
lines on a first start); that goes to `<data dir>/pgserver.log`, beside the
server's own log (`<data dir>/pgdata/log`), and only its warnings and errors
reach the console.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

LOG_FILE = "pgserver.log"
"""pgserver's log (the commands it ran and their output), in the data folder beside pgdata."""


def _pgserver() -> ModuleType:
    # pgserver's import warns when XDG_RUNTIME_DIR is unset; it then uses /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


@contextmanager
def throwaway_server(prefix: str) -> Iterator[str]:
    """A private PostgreSQL in a new temporary folder, deleted with it on exit; its URL."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    server = _pgserver().get_server(folder / "pgdata", cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def pgdata_dir(data_dir: Path) -> Path:
    """Where the embedded server keeps its files."""
    return data_dir.expanduser().resolve() / "pgdata"


def running_url(data_dir: Path) -> str | None:
    """The URL of the embedded server if it is running, else None."""
    pgdata = pgdata_dir(data_dir)
    if not (pgdata / "postmaster.pid").exists():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError):  # a pid file still being written: not ready yet
        return None
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return str(info.get_uri())


@dataclass(frozen=True)
class EmbeddedDatabase:
    """The data folder's running server: its URL, and whether this process started it."""

    url: str
    data_dir: Path
    started: bool


def ensure_running(data_dir: Path, keep_running: bool) -> EmbeddedDatabase:
    """Start the embedded server unless it runs already; say where, and whether it started it.

    Each process registers as a user of the server, and the last one to exit
    stops it, unless someone asked to keep it running (`switchyard db up`
    leaves a marker for that, which `switchyard db down` removes).
    """
    marker = _keep_running_marker(data_dir)
    pgdata = pgdata_dir(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _log_to_file(pgdata.parent / LOG_FILE)
    if keep_running:
        marker.touch()
    mode = None if marker.exists() else "stop"
    started = running_url(data_dir) is None
    url = str(_pgserver().get_server(pgdata, cleanup_mode=mode).get_uri())
    return EmbeddedDatabase(url, pgdata.parent, started)


class _Console(logging.Handler):
    """Hands a record on to the root logger's handlers (the console), as if it had propagated."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger().handle(record)


def _log_to_file(path: Path) -> None:
    """Send pgserver's log to `path`, and only its warnings and errors on to the console.

    For the rest of the process: pgserver also logs when it stops the server at exit.
    """
    logger = logging.getLogger("pgserver")
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler | _Console)]:
        logger.removeHandler(handler)
        handler.close()
    to_file = logging.FileHandler(path, delay=True)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    to_console = _Console(logging.WARNING)
    logger.addHandler(to_file)
    logger.addHandler(to_console)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _keep_running_marker(data_dir: Path) -> Path:
    return pgdata_dir(data_dir).parent / "keep-running"


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; say whether it did."""
    _keep_running_marker(data_dir).unlink(missing_ok=True)
    if running_url(data_dir) is None:
        return False
    _log_to_file(pgdata_dir(data_dir).parent / LOG_FILE)
    _pgserver()
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    user = (
        "pgserver" if os.geteuid() == 0 else None
    )  # pgserver runs the server as this user under root
    pg_ctl(["-w", "stop"], pgdata=pgdata_dir(data_dir), user=user)
    return True
