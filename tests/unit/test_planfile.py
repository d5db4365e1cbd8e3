"""The plan file reader: JSON by the JSON parser, anything else by the YAML parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.adapters.cli.planfile import read_plan_file
from switchyard.domain.errors import RequestUnreadable


def test_reads_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"name": "p", "tenants": [{"tenantId": "acme", "targetVersion": "2.10"}]}')
    assert read_plan_file(path) == {
        "name": "p",
        "tenants": [{"tenantId": "acme", "targetVersion": "2.10"}],
    }


def test_reads_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("name: p\ntenants:\n  - tenantId: acme\n    targetVersion: '2.10'\n")
    assert read_plan_file(path) == {
        "name": "p",
        "tenants": [{"tenantId": "acme", "targetVersion": "2.10"}],
    }


def test_reads_yaml_flow_style_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("{name: p, tenants: []}")
    assert read_plan_file(path) == {"name": "p", "tenants": []}


def test_refuses_a_file_that_is_neither(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text('{"name": "p", "tenants": [}')
    with pytest.raises(RequestUnreadable) as raised:
        read_plan_file(path)
    assert raised.value.code == RequestUnreadable.code
