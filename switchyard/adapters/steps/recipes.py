"""Loads service-type recipes from YAML: the packaged ones, plus an optional file."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from switchyard.domain.errors import Problem, RecipeInvalid
from switchyard.domain.retry import parse_duration
from switchyard.domain.stage_factory import BASE_PLACEHOLDERS, ServiceTypeRecipe, placeholders
from switchyard.domain.values import StageDefinition, StepDefinition

PACKAGED = "service_types.yaml"
"""The built-in recipes, shipped in this package."""


def load_recipes(extra: Path | None = None) -> dict[str, ServiceTypeRecipe]:
    """The packaged recipes, with those of `extra` (if given) added or replacing."""
    packaged = resources.files("switchyard.adapters.steps").joinpath(PACKAGED)
    text = packaged.read_text(encoding="utf-8")
    recipes = parse_recipes(yaml.safe_load(text), PACKAGED)
    if extra is not None:
        recipes.update(parse_recipes(_read(extra), str(extra)))
    return recipes


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _invalid(str(path), "unreadable", f"cannot be read as YAML: {exc}") from exc


def _invalid(where: str, code: str, message: str) -> RecipeInvalid:
    return RecipeInvalid([Problem(where, code, message)])


def parse_recipes(data: Any, source: str) -> dict[str, ServiceTypeRecipe]:
    """Turn a mapping of service type -> {settings, stages} into checked recipes."""
    if not isinstance(data, Mapping):
        raise _invalid(source, "type", "expected a mapping of service types")
    return {str(name): _recipe(str(name), body, source) for name, body in data.items()}


def _recipe(name: str, body: Any, source: str) -> ServiceTypeRecipe:
    where = f"{source}: {name}"
    if not isinstance(body, Mapping) or not isinstance(body.get("stages"), list):
        raise _invalid(where, "required", "needs 'stages' (a list) and optional 'settings'")
    if not isinstance(body.get("settings") or {}, Mapping):
        raise _invalid(where, "type", "'settings' must be a mapping")
    settings = dict(body.get("settings") or {})
    unknown = placeholders(settings) - BASE_PLACEHOLDERS
    if unknown:
        raise _invalid(
            where, "unknown_placeholder", f"settings use unknown placeholders {sorted(unknown)}"
        )
    stages = tuple(_stage(stage, where) for stage in body["stages"])
    known = BASE_PLACEHOLDERS | set(settings)
    for stage in stages:
        unknown = placeholders([step.params for step in stage.steps]) - known
        if unknown:
            raise _invalid(
                f"{where}: stage {stage.name}",
                "unknown_placeholder",
                f"uses unknown placeholders {sorted(unknown)}",
            )
    return ServiceTypeRecipe(name=name, settings=settings, stages=stages)


def _stage(stage: Any, where: str) -> StageDefinition:
    if not isinstance(stage, Mapping) or not stage.get("name") or not stage.get("steps"):
        raise _invalid(where, "required", "every stage needs a name and steps")
    return StageDefinition(
        name=str(stage["name"]),
        steps=tuple(_step(step, f"{where}: stage {stage['name']}") for step in stage["steps"]),
        timeout_seconds=_timeout(stage.get("timeout"), where),
    )


def _timeout(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except (TypeError, ValueError) as exc:
        raise _invalid(where, "malformed_timeout", f"bad stage timeout {value!r}: {exc}") from exc


def _step(step: Any, where: str) -> StepDefinition:
    if not isinstance(step, Mapping) or not isinstance(step.get("kind"), str):
        raise _invalid(where, "required", "every step needs a 'kind'")
    if not isinstance(step.get("params") or {}, Mapping):
        raise _invalid(where, "type", "a step's 'params' must be a mapping")
    return StepDefinition(kind=step["kind"], params=dict(step.get("params") or {}))
