"""The published messages' schemas and documented examples: current, complete and true."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from switchyard import domain
from switchyard.adapters.cli.main import app as cli
from switchyard.adapters.kafka.docs import examples_markdown, replace_examples
from switchyard.adapters.kafka.event_schemas import (
    AGGREGATES,
    EventType,
    event_schema,
    event_types,
    schema_files,
)
from switchyard.adapters.kafka.event_schemas import write_schemas as write
from switchyard.adapters.kafka.examples import Published, scenario

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
PAGE = ROOT / "docs" / "events.md"
REGENERATE = (
    "stale: run `switchyard events schemas --out docs/schemas` and "
    "`switchyard events examples --page docs/events.md`"
)
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")

formats = FormatChecker()


@formats.checks("date-time")
def is_rfc3339(instance: object) -> bool:
    """Whether a string is an RFC 3339 date-time (jsonschema checks none without a plugin)."""
    return not isinstance(instance, str) or RFC3339.fullmatch(instance) is not None


def validator(name: str) -> Draft202012Validator:
    """A validator, checking formats, for the committed schema of that file name."""
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=formats)


def problems(name: str, instance: Any) -> list[str]:
    """What the schema of that file name finds wrong with the instance."""
    return [f"{name}: {e.json_path}: {e.message}" for e in validator(name).iter_errors(instance)]


def text_headers(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    """Kafka headers as a consumer reads them into a map."""
    return {name: value.decode() for name, value in headers}


@pytest.fixture(scope="module")
def published() -> list[Published]:
    """Every message of the example scenario, as the relay makes it."""
    return scenario()


# -- nothing stale ----------------------------------------------------------


def test_the_committed_schemas_are_what_the_generator_writes_now() -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert committed == schema_files(), REGENERATE


def test_the_documented_examples_are_what_the_scenario_gives_now() -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert replace_examples(page, examples_markdown()) == page, REGENERATE


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    for text in schema_files().values():
        Draft202012Validator.check_schema(json.loads(text))


# -- complete ---------------------------------------------------------------


def domain_aggregates() -> Iterator[type[Aggregate]]:
    """Every aggregate class defined in the domain package."""
    for module_info in pkgutil.iter_modules(domain.__path__, "switchyard.domain."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Aggregate) and cls.__module__ == module.__name__:
                yield cls


def test_every_aggregate_of_the_domain_is_published() -> None:
    assert set(domain_aggregates()) == set(AGGREGATES)


def test_every_event_type_has_a_schema_and_an_example() -> None:
    page = PAGE.read_text(encoding="utf-8")
    for event_type in event_types():
        assert (SCHEMAS / f"{event_type.ce_type}.json").is_file(), event_type.ce_type
        assert f"#### `{event_type.ce_type}`" in page, event_type.ce_type


def test_the_scenario_publishes_every_event_type_and_no_other(
    published: list[Published],
) -> None:
    types = {text_headers(p.record.headers)["ce_type"] for p in published}
    assert types == {e.ce_type for e in event_types()}


# -- true -------------------------------------------------------------------


def test_every_message_of_the_scenario_matches_its_schemas(published: list[Published]) -> None:
    found = []
    for p in published:
        headers = text_headers(p.record.headers)
        found += problems("switchyard.events.headers.json", headers)
        found += problems(f"{headers['ce_type']}.json", json.loads(p.record.value))
    assert found == []


def test_the_documented_heartbeat_matches_its_schemas() -> None:
    page = PAGE.read_text(encoding="utf-8")
    section = page.split("<!-- heartbeat example", 1)[1]
    header_block = section.split("```text\n", 1)[1].split("```", 1)[0]
    value_block = section.split("```json\n", 1)[1].split("```", 1)[0]
    lines = [line.split(": ", 1) for line in header_block.splitlines()]
    headers = {name: value for name, value in lines if name != "key"}
    assert problems("switchyard.heartbeats.headers.json", headers) == []
    assert problems("switchyard.task.Heartbeat.json", json.loads(value_block)) == []


def stage_completed(published: list[Published]) -> dict[str, Any]:
    """The value of the scenario's first StageCompleted message."""
    for p in published:
        if text_headers(p.record.headers)["ce_type"] == "switchyard.task.StageCompleted":
            value: dict[str, Any] = json.loads(p.record.value)
            return value
    raise AssertionError("no StageCompleted")


def test_a_renamed_field_does_not_match(published: list[Published]) -> None:
    value = stage_completed(published)
    value["fencing_token"] = value.pop("fence")
    assert problems("switchyard.task.StageCompleted.json", value) != []
    value = stage_completed(published)
    value["outcome"]["stage"] = value["outcome"].pop("name")
    assert problems("switchyard.task.StageCompleted.json", value) != []


def test_an_added_field_matches(published: list[Published]) -> None:
    value = {**stage_completed(published), "duration_millis": 1200}
    assert problems("switchyard.task.StageCompleted.json", value) == []


def test_a_message_without_its_aggregates_tenant_or_plan_does_not_match(
    published: list[Published],
) -> None:
    first: dict[str, dict[str, str]] = {}
    for p in published:
        headers = text_headers(p.record.headers)
        first.setdefault(headers["ce_type"], headers)
    stage = first["switchyard.task.StageCompleted"]
    assert problems("switchyard.events.headers.json", stage) == []
    for kind, header in (
        ("task.StageCompleted", "ce_tenantid"),
        ("task.StageCompleted", "ce_planid"),
        ("tenanttasks.Registered", "ce_tenantid"),
        ("plan.PauseRequested", "ce_planid"),
    ):
        headers = dict(first[f"switchyard.{kind}"])
        del headers[header]
        assert problems("switchyard.events.headers.json", headers) != [], (kind, header)


def test_a_malformed_id_or_time_does_not_match() -> None:
    value = {"timestamp": "2026-11-02 09:30", "task_id": "t-1", "plan_id": "not-a-uuid"}
    assert len(problems("switchyard.tenanttasks.TaskAssigned.json", value)) == 3


# -- the generator ----------------------------------------------------------


class Odd(Aggregate):
    """An aggregate whose event carries a type no schema is made for."""

    @event("Happened")
    def happen(self, amount: complex) -> None:
        """Record that something happened."""


def test_an_event_field_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(TypeError):
        event_schema(EventType(Odd, Odd.Happened, "Something happened."))


def test_writing_replaces_stale_schemas_and_leaves_other_files(tmp_path: Path) -> None:
    (tmp_path / "switchyard.task.Vanished.json").write_text("{}")
    (tmp_path / "unrelated.json").write_text("{}")
    write(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {*schema_files(), "unrelated.json"}


def test_the_cli_writes_the_schemas_and_finds_the_examples_up_to_date(tmp_path: Path) -> None:
    page = tmp_path / "events.md"
    page.write_text(PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    written = runner.invoke(cli, ["events", "schemas", "--out", str(tmp_path / "schemas")])
    checked = runner.invoke(cli, ["events", "examples", "--page", str(page)])
    assert (written.exit_code, checked.exit_code) == (0, 0)
    assert {p.name for p in (tmp_path / "schemas").iterdir()} == set(schema_files())
    assert checked.output.strip().endswith("up to date")
