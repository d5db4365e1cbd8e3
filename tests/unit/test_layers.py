"""The layers' imports point inward only, and only entry points build the composition root.

switchyard.domain  <-  switchyard.application  <-  switchyard.projections
                                               <-  switchyard.adapters
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "switchyard"
LAYERS = ("domain", "application", "projections", "adapters")
BOOTSTRAP = "switchyard.adapters.bootstrap"
ENTRY_POINTS = ("switchyard.adapters.cli", "switchyard.adapters.api")
"""The only packages that may build the composition root (besides tests)."""


def python_files(folder: Path) -> Iterator[Path]:
    """Every Python file under a folder."""
    yield from sorted(folder.rglob("*.py"))


def module_of(path: Path) -> str:
    """The dotted module name of a file in the repository."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Each absolute module a file imports, with its line (from-imports name their names too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def layer_of(module: str) -> str:
    """The switchyard layer a module belongs to, or its top-level package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "switchyard" and len(parts) > 1 else parts[0]


def imports_from(layer: str) -> Iterator[tuple[str, str]]:
    """(where, imported module) for every import in a layer."""
    for path in python_files(PACKAGE / layer):
        for line, module in imported_modules(path):
            yield f"{path.relative_to(ROOT)}:{line}", module


def test_the_walker_sees_imports() -> None:
    # Guards the rules below: a walker that found nothing would pass them all.
    modules = {m for _, m in imports_from("application")}
    assert {"eventsourcing.application", "switchyard.domain.errors"} <= modules


def test_every_layer_is_a_package() -> None:
    assert [layer for layer in LAYERS if not (PACKAGE / layer / "__init__.py").exists()] == []


def test_domain_imports_only_stdlib_eventsourcing_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"eventsourcing", "domain", "__future__"}
    found = [f"{w} imports {m}" for w, m in imports_from("domain") if layer_of(m) not in allowed]
    assert found == []


def test_domain_uses_only_the_eventsourcing_domain_module() -> None:
    found = [
        f"{where} imports {module}"
        for where, module in imports_from("domain")
        if module.startswith("eventsourcing.") and not module.startswith("eventsourcing.domain")
    ]
    assert found == []


@pytest.mark.parametrize(
    ("layer", "banned"),
    [
        ("domain", {"application", "projections", "adapters"}),
        ("application", {"projections", "adapters"}),
        ("projections", {"adapters"}),
    ],
)
def test_imports_point_inward(layer: str, banned: set[str]) -> None:
    found = [
        f"{where} imports {module}"
        for where, module in imports_from(layer)
        if module.startswith("switchyard.") and layer_of(module) in banned
    ]
    assert found == []


def test_only_entry_points_import_the_composition_root() -> None:
    found = [
        f"{where} imports {module}"
        for layer in LAYERS
        for where, module in imports_from(layer)
        if module.startswith(BOOTSTRAP)
        and not module_of(ROOT / where.partition(":")[0]).startswith(ENTRY_POINTS)
    ]
    assert found == []


def test_the_package_holds_nothing_but_its_layers() -> None:
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert found == set(LAYERS)
