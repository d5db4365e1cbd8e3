"""What `switchyard dev` publishes in the data folder for other shells and `demo --api`.

While `dev` runs, `<data>/api.url` holds the API's address, `<data>/api.token` its
development token and `<data>/redis.url` the Redis its scheduler publishes route
changes on; each file is readable by its owner only (mode 0600) and removed when
`dev` stops, unless another `dev` on the same folder has replaced it since.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

API_URL_FILE = "api.url"
"""The file holding the running API's address, as `http://HOST:PORT`."""

API_TOKEN_FILE = "api.token"
"""The file holding the running API's development token."""

REDIS_URL_FILE = "redis.url"
"""The file holding the Redis URL of the running `dev`'s scheduler."""


@dataclass(frozen=True)
class PublishedDev:
    """What a running `dev` published in a data folder; None where nothing is."""

    api_url: str | None
    token: str | None
    redis_url: str | None


def read_published(data_dir: Path) -> PublishedDev:
    """What the data folder's running `dev` published (None for each missing file)."""
    folder = data_dir.expanduser()
    return PublishedDev(
        api_url=_read(folder / API_URL_FILE),
        token=_read(folder / API_TOKEN_FILE),
        redis_url=_read(folder / REDIS_URL_FILE),
    )


@contextmanager
def published(data_dir: Path, values: Mapping[str, str]) -> Iterator[None]:
    """Write each file name's value into the data folder (mode 0600); remove them after."""
    folder = data_dir.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for name, value in values.items():
            stack.enter_context(_one_file(folder / name, value))
        yield


@contextmanager
def _one_file(path: Path, value: str) -> Iterator[None]:
    path.unlink(missing_ok=True)  # a file left by a killed run may have other permissions
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    try:
        yield
    finally:
        if _read(path) == value:  # another `dev` on the folder may have replaced it: keep theirs
            path.unlink(missing_ok=True)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
