"""Architecture rules: the layers' imports, unique error codes, and the store-error table."""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from eventsourcing import persistence as es

from adapters import persistence
from adapters.persistence import ERROR_TABLE, map_store_error, store_errors
from domain.errors import (
    ConcurrentUpdate,
    StoreRefused,
    StoreUnavailable,
    SwitchyardError,
    all_error_classes,
)

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "projections", "adapters")


def python_files(*folders: str) -> Iterator[Path]:
    """Every Python file under the given top-level folders of the repository."""
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Each absolute module a file imports, with its line (relative imports stay inside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def top(module: str) -> str:
    """The top-level package of a dotted module name."""
    return module.partition(".")[0]


def violations(
    folders: tuple[str, ...], allowed: frozenset[str] | None, banned: str = ""
) -> list[str]:
    """Imports in `folders` outside `allowed` (when given) or of the `banned` package."""
    found = []
    for path in python_files(*folders):
        for line, module in imported_modules(path):
            outside = allowed is not None and top(module) not in allowed
            if outside or top(module) == banned:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_the_walker_sees_imports() -> None:
    # Guards the rules below: a walker that found nothing would pass them all.
    modules = {m for _, m in imported_modules(ROOT / "application" / "app.py")}
    assert {"eventsourcing.application", "domain.errors"} <= modules


def test_domain_imports_only_stdlib_eventsourcing_and_itself() -> None:
    allowed = frozenset(sys.stdlib_module_names) | {"eventsourcing", "domain", "__future__"}
    assert violations(("domain",), allowed) == []


def test_domain_uses_only_the_eventsourcing_domain_module() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files("domain")
        for line, module in imported_modules(path)
        if top(module) == "eventsourcing" and module != "eventsourcing.domain"
    ]
    assert found == []


def test_only_adapters_and_tests_import_adapters() -> None:
    others = sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in ("adapters", "tests")
    )
    assert {"domain", "application", "projections"} <= set(others)
    assert violations(tuple(others), None, banned="adapters") == []


@pytest.mark.parametrize("layer", ["application", "projections"])
def test_inner_layers_do_not_import_adapters(layer: str) -> None:
    assert violations((layer,), None, banned="adapters") == []


def test_application_does_not_import_projections() -> None:
    assert violations(("domain", "application"), None, banned="projections") == []


# -- errors -------------------------------------------------------------------


def test_every_error_class_has_a_unique_code() -> None:
    classes = all_error_classes()
    codes = [cls.code for cls in classes]
    assert len(classes) >= 15
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)


def test_every_error_class_defines_its_own_code() -> None:
    inherited = [cls.__name__ for cls in all_error_classes() if "code" not in vars(cls)]
    assert inherited == []


def library_exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in eventsourcing.persistence."""
    return [
        cls
        for _, cls in inspect.getmembers(es, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == es.__name__
    ]


def instance_of(cls: type[BaseException]) -> BaseException:
    """An instance of an exception class, built without its own constructor's arguments."""
    exc = cls.__new__(cls)
    exc.args = ("boom",)
    return exc


def test_library_exception_classes_are_found() -> None:
    names = {cls.__name__ for cls in library_exception_classes()}
    assert {"IntegrityError", "OperationalError", "PersistenceError"} <= names


def test_error_table_covers_every_eventsourcing_persistence_exception() -> None:
    uncovered = sorted(
        cls.__name__
        for cls in library_exception_classes()
        if map_store_error(instance_of(cls)) is None
    )
    assert uncovered == []


def test_error_table_maps_the_library_database_errors() -> None:
    database_errors = [
        cls
        for cls in library_exception_classes()
        if issubclass(cls, es.PersistenceError | es.RecordConflictError)
    ]
    assert database_errors
    assert [c.__name__ for c in database_errors if map_store_error(instance_of(c)) is None] == []


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_map_store_error_picks_the_most_specific_match(
    order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if order == "reversed":
        monkeypatch.setattr(persistence, "ERROR_TABLE", dict(reversed(ERROR_TABLE.items())))
    cases: list[tuple[BaseException, type[SwitchyardError]]] = [
        (es.IntegrityError("dup"), ConcurrentUpdate),
        (es.ConnectionUnavailableError("down"), StoreUnavailable),
        (es.OperationalError("down"), StoreUnavailable),
        (es.ProgrammingError("denied"), StoreRefused),
        (es.DatabaseError("odd"), StoreRefused),
        (psycopg.OperationalError("down"), StoreUnavailable),
        (psycopg.errors.InsufficientPrivilege("denied"), StoreRefused),
    ]
    for exc, expected in cases:
        mapped = map_store_error(exc)
        assert type(mapped) is expected, type(exc).__name__


def test_every_table_entry_maps_to_its_own_error() -> None:
    # Each key, raised as itself, must pick its own row, not a parent's.
    wrong = {
        cls.__name__: type(map_store_error(instance_of(cls))).__name__
        for cls, expected in ERROR_TABLE.items()
        if type(map_store_error(instance_of(cls))) is not expected
    }
    assert wrong == {}


def test_store_errors_keeps_the_cause() -> None:
    original = es.OperationalError("connection refused")
    with pytest.raises(SwitchyardError) as info, store_errors():
        raise original
    assert info.value.code == "store.unavailable"
    assert info.value.__cause__ is original


def test_store_errors_reraises_what_it_does_not_know() -> None:
    original = KeyError("not a store error")
    with pytest.raises(KeyError) as info, store_errors():
        raise original
    assert info.value is original


def test_store_errors_lets_switchyard_errors_through() -> None:
    original = ConcurrentUpdate(task_id="t")
    with pytest.raises(ConcurrentUpdate) as info, store_errors():
        raise original
    assert info.value is original


def test_map_store_error_ignores_unknown_exceptions() -> None:
    assert map_store_error(ValueError("nope")) is None


def test_architecture_covers_every_layer() -> None:
    missing = [layer for layer in LAYERS if not (ROOT / layer / "__init__.py").exists()]
    assert missing == []
