"""The container files, read as data (no Docker engine here): one image runs every role,
each role waits for what it needs, and every variable they set is one switchyard reads."""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

import typer
import yaml
from pydantic import AliasChoices

from switchyard.adapters.cli.main import app
from switchyard.adapters.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

ROLES = ("migrate", "api", "scheduler", "relay", "projector")
"""The switchyard services of the compose file: the one-shot migration and the four roles."""

SERVERS = ("postgres", "kafka", "redis")
"""The servers the roles run against."""


def compose() -> dict[str, Any]:
    """The compose file's services."""
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def setting_names() -> set[str]:
    """Every environment variable a `Settings` field is read from."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continued lines joined): keyword, arguments."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_every_role_runs_from_the_same_image() -> None:
    services = compose()
    assert set(ROLES) | set(SERVERS) <= set(services)
    users = [*ROLES, "switchyard"]  # and the CLI, for one-off commands
    assert {services[name]["image"] for name in users} == {"switchyard:local"}
    assert all(services[name]["build"] == "." for name in users)


def test_every_role_runs_a_command_of_the_cli() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for role in ROLES:
        command = compose()[role]["command"]
        assert command[0] in commands, f"{role}: no `switchyard {command[0]}`"
    assert compose()["migrate"]["command"] == ["db", "migrate"]


def test_roles_start_after_the_migration_and_healthy_servers() -> None:
    services = compose()
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for role in ROLES[1:]:
        needs = services[role]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}, role
        assert {needs[server]["condition"] for server in SERVERS} == {"service_healthy"}, role


def test_every_service_waited_for_as_healthy_has_a_healthcheck() -> None:
    services = compose()
    healthy = {
        name
        for service in services.values()
        for name, need in (service.get("depends_on") or {}).items()
        if need["condition"] == "service_healthy"
    }
    assert healthy == set(SERVERS)
    for name in [*healthy, "api"]:
        assert services[name]["healthcheck"]["test"], name


def test_the_roles_are_configured_by_variables_switchyard_reads() -> None:
    known = setting_names()
    for role in ROLES:
        environment = compose()[role]["environment"]
        assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"} <= set(environment)
        assert "SWITCHYARD_API_TOKENS" in environment
        assert set(environment) <= known, set(environment) - known


def test_the_roles_leave_table_creation_to_the_migration() -> None:
    for role in ROLES[1:]:
        assert compose()[role]["environment"]["SWITCHYARD_CREATE_TABLES"] == "false"


def test_the_api_listens_on_every_interface_on_its_published_port() -> None:
    environment = dict(pair.split("=", 1) for pair in _env_pairs())
    port = environment["SWITCHYARD_API_PORT"]
    assert f"{port}:{port}" in compose()["api"]["ports"]
    assert environment["SWITCHYARD_API_HOST"] == "0.0.0.0"


def _env_pairs() -> list[str]:
    pairs: list[str] = []
    for keyword, arguments in dockerfile():
        if keyword == "ENV":
            pairs.extend(shlex.split(arguments))
    return pairs


def test_the_image_is_python_3_11_slim_installing_the_package() -> None:
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    assert any(run.startswith("pip install .") for run in runs)


def test_the_image_runs_the_cli_as_a_user_that_is_not_root() -> None:
    instructions = dockerfile()
    keywords = [keyword for keyword, _ in instructions]
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    entrypoint = json.loads(dict(instructions)["ENTRYPOINT"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["switchyard"] and "switchyard" in scripts


def test_the_image_variables_are_settings() -> None:
    names = {pair.split("=", 1)[0] for pair in _env_pairs() if pair.startswith("SWITCHYARD_")}
    assert names and names <= setting_names(), names - setting_names()


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".switchyard", ".env", "tests"} <= ignored
