"""Reads a plan request from a YAML or JSON file (JSON is YAML, so one parser does both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from switchyard.domain.errors import RequestUnreadable


def read_plan_file(path: Path) -> Any:
    """The request data in the file; RequestUnreadable if it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise RequestUnreadable(f"cannot read {path}: {why}", path=str(path)) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise RequestUnreadable(f"{path} is not valid YAML or JSON{line}", path=str(path)) from exc
