"""The real `switchyard` CLI on a fresh data folder: what a first start prints, and keeps.

A command that starts the embedded database says so, naming its folder (an
operator in the wrong folder would otherwise read `tenant.not_found` from a new,
empty database); one on a running server or on DATABASE_URL says nothing more.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from switchyard.adapters.embedded.postgres import LOG_FILE, pgdata_dir
from tests.support.cli import CLI, CLOSED_PORT_URL, fresh_env
from tests.support.waiting import wait_until


def accepts(data_dir: Path) -> bool:
    """Whether the data folder's embedded server accepts connections on its socket."""
    try:
        with psycopg.connect(f"postgresql://postgres@/postgres?host={pgdata_dir(data_dir)}"):
            return True
    except psycopg.Error:
        return False


@pytest.fixture()
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data folder; its embedded database is stopped at the end."""
    folder = tmp_path / "data"
    yield folder
    subprocess.run([CLI, "db", "down"], env=fresh_env(folder), capture_output=True, check=False)


def test_a_first_start_keeps_initdb_output_in_the_data_folder(
    data_dir: Path, redis_url: str
) -> None:
    out, err = data_dir.parent / "out.txt", data_dir.parent / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        scheduler = subprocess.Popen(
            [CLI, "scheduler"],
            env=fresh_env(data_dir, REDIS_URL=redis_url),
            cwd=data_dir.parent,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until(lambda: accepts(data_dir) or scheduler.poll() is not None, 60, "started")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(60)
    printed = out.read_text() + err.read_text()
    assert "initdb" not in printed and "pgserver" not in printed, printed
    assert "initdb" in (data_dir / LOG_FILE).read_text()


def cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `switchyard ARGS` on the data folder (plus `env`) and wait for it."""
    return subprocess.run(
        [CLI, *args],
        env=fresh_env(data_dir, **env),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def naming(folder: Path, text: str) -> list[str]:
    """The lines of `text` that name the folder."""
    return [line for line in text.splitlines() if str(folder.resolve()) in line]


def test_a_command_that_starts_the_embedded_database_names_its_folder(data_dir: Path) -> None:
    run = cli(data_dir, "task", "show", "--tenant", "acme")
    assert run.returncode == 1 and "[tenant.not_found]" in run.stderr, run.stderr
    assert len(naming(data_dir, run.stderr)) == 1, run.stderr
    assert not naming(data_dir, run.stdout)


def test_a_command_on_the_running_embedded_database_does_not_announce_it(
    data_dir: Path,
) -> None:
    assert cli(data_dir, "db", "up").returncode == 0
    run = cli(data_dir, "task", "show", "--tenant", "acme")
    assert "[tenant.not_found]" in run.stderr, run.stderr
    assert not naming(data_dir, run.stdout + run.stderr), run.stderr


def test_a_command_on_database_url_does_not_announce_a_database(data_dir: Path) -> None:
    run = cli(data_dir, "task", "show", "--tenant", "acme", DATABASE_URL=CLOSED_PORT_URL)
    assert "[store.unavailable]" in run.stderr, run.stderr
    assert not naming(data_dir, run.stdout + run.stderr), run.stderr
    assert not data_dir.exists()
