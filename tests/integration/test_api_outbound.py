"""The API refuses a plan whose URLs the outbound policy refuses: 422 `plan.invalid` with a
`url.refused` problem per field path, and nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.domain.errors import TenantNotFound
from tests.support.api import ApiClient, api_client, issue
from tests.support.builders import plan_request, tenant

WRITER = issue("deploy-bot")
PROBLEM = "application/problem+json"


def refused_fields(client: ApiClient, request: dict[str, Any]) -> set[str]:
    """POST the plan; it is a 422 plan.invalid problem: the fields refused as url.refused."""
    response = client.post("/v1/plans", json=request, headers=WRITER.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "plan.invalid"
    return {e["field"] for e in body["errors"] if e["code"] == "url.refused"}


def test_metadata_and_link_local_urls_are_refused_by_field(pg_env: dict[str, str]) -> None:
    endpoints = [
        "10.0.4.12:8081",
        "http://169.254.169.254/latest/meta-data",
        "[fe80::1]:80",
        "http://metadata.google.internal/computeMetadata/v1/",
    ]
    request = plan_request(
        tenant(endpoints=endpoints),
        tenant("globex", registry={"kind": "dns", "name": "100.100.100.200"}),
    )
    with api_client(pg_env, WRITER) as (client, parts):
        assert refused_fields(client, request) == {
            "tenants[0].endpoints[1]",
            "tenants[0].endpoints[2]",
            "tenants[0].endpoints[3]",
            "tenants[1].registry.name",
        }
        with pytest.raises(TenantNotFound):
            parts.app.current_task_id("acme")


def test_loopback_is_refused_unless_outbound_allow_allows_it(pg_env: dict[str, str]) -> None:
    request = plan_request(tenant(endpoints=["127.0.0.1:18081", "http://localhost:8080/health"]))
    with api_client(pg_env, WRITER, outbound_allow=()) as (client, _):
        assert refused_fields(client, request) == {
            "tenants[0].endpoints[0]",
            "tenants[0].endpoints[1]",
        }
    with api_client(pg_env, WRITER, outbound_allow="127.0.0.1,::1,localhost") as (client, _):
        made = client.post("/v1/plans", json=request, headers=WRITER.headers)
        assert made.status_code == 201, made.text
