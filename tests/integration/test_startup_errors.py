"""What switchyard says when what it starts from is broken: a recipe file, an embedded server.

The CLI runs with DATABASE_URL on a closed port: the recipes are read before
the database is reached, so a test that printed `store.unavailable` instead of
the recipe's code would fail.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from switchyard.adapters.embedded.kafka import start_kafka
from switchyard.domain.errors import EmbeddedStartFailed
from tests.support.cli import CLI, CLOSED_PORT_URL, EXAMPLE, fresh_env

BAD_RECIPES = {
    "stages not a list": "portal:\n  stages: ConfigUpdate\n",
    "unknown placeholder": (
        "portal:\n  stages:\n    - name: A\n      steps:\n"
        "        - {kind: noop, params: {key: '{nope}'}}\n"
    ),
    "not yaml": "portal: [unclosed\n  stages: {",
}


def plan_create(tmp_path: Path, recipes: Path) -> subprocess.CompletedProcess[str]:
    """Run `switchyard plan create` on the example plan with an extra recipe file."""
    env = fresh_env(
        tmp_path / "data",
        DATABASE_URL=CLOSED_PORT_URL,
        SWITCHYARD_DB_CONNECT_TIMEOUT="1",
        SWITCHYARD_SERVICE_TYPES_FILE=str(recipes),
        NO_COLOR="1",
    )
    return subprocess.run(
        [CLI, "plan", "create", str(EXAMPLE)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(BAD_RECIPES))
def test_a_malformed_recipe_file_prints_its_code_and_exits_1(tmp_path: Path, case: str) -> None:
    recipes = tmp_path / "recipes.yaml"
    recipes.write_text(BAD_RECIPES[case], encoding="utf-8")
    run = plan_create(tmp_path, recipes)
    assert run.returncode == 1, run.stderr
    assert "error [recipe.invalid]" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_a_missing_recipe_file_prints_its_code_and_exits_1(tmp_path: Path) -> None:
    run = plan_create(tmp_path, tmp_path / "nowhere.yaml")
    assert run.returncode == 1, run.stderr
    assert "error [recipe.invalid]" in run.stderr, run.stderr


def test_a_broker_that_cannot_bind_its_port_fails_to_start_with_its_code(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(EmbeddedStartFailed) as info:
            start_kafka(tmp_path / "kafka", timeout=10, port=taken.getsockname()[1])
    assert info.value.code == "embedded.start_failed"
    assert info.value.details == {"server": "kafka"}
