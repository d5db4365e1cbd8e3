"""Errors: every class has its own unique code; the store-error table maps every library error."""

from __future__ import annotations

import inspect

import psycopg
import pytest
from eventsourcing import persistence as es
from sqlalchemy import exc as sa_exc

from switchyard.adapters.postgres import persistence
from switchyard.adapters.postgres.persistence import ERROR_TABLE, map_store_error, store_errors
from switchyard.domain.errors import (
    ConcurrentUpdate,
    StoreRefused,
    StoreUnavailable,
    SwitchyardError,
    all_error_classes,
)


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
    if issubclass(cls, sa_exc.DBAPIError):  # it prints its statement: it needs one
        return cls("SELECT 1", None, Exception("boom"))
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
        (sa_exc.OperationalError("SELECT 1", None, Exception("down")), StoreUnavailable),
        (sa_exc.ProgrammingError("CREATE", None, Exception("denied")), StoreRefused),
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
