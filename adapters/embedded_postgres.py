"""An embedded PostgreSQL server from the `pgserver` wheel, kept in a data folder.

The server listens on a Unix socket in its data folder and survives restarts of
switchyard: the next start finds it running (or starts it on the same data).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from types import ModuleType


def _pgserver() -> ModuleType:
    # pgserver's import warns when XDG_RUNTIME_DIR is unset; it then uses /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


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

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return str(info.get_uri())


def ensure_running(data_dir: Path, keep_running: bool) -> str:
    """Start the embedded server unless it runs already; return its URL.

    With `keep_running`, the server outlives this process (as `switchyard db up`
    wants); otherwise it stops when the last process that started it exits.
    """
    url = running_url(data_dir)
    if url is not None:
        return url
    pgdata = pgdata_dir(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    return str(server.get_uri())


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; say whether it did."""
    if running_url(data_dir) is None:
        return False
    _pgserver()
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs the server as this user under root
    pg_ctl(["-w", "stop"], pgdata=pgdata_dir(data_dir), user=user)
    return True
