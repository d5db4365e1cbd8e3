"""Metrics as Prometheus scrapes them: the API's /metrics (its requests by route template,
tasks by status after a plan ran) and a role's own metrics port."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from switchyard.adapters.bootstrap import container
from switchyard.adapters.settings import Settings
from switchyard.application.app import Switchyard
from switchyard.domain.errors import SettingsInvalid
from switchyard.domain.status import SETTLED
from tests.support.api import api_client, issue
from tests.support.builders import probe_plan
from tests.support.schedulers import Probe, running_scheduler
from tests.support.waiting import wait_until

WRITER = issue("deploy-bot")
TEXT_FORMAT = "text/plain"


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value; unseen if the scrape lacks it."""
    key = (name, frozenset(labels.items()))
    assert key in found, f"unseen: {name} {labels}"
    return found[key]


def test_the_api_counts_and_times_requests_by_route_template(pg_env: dict[str, str]) -> None:
    with api_client(pg_env, WRITER) as (client, _):
        for _ in range(2):
            path = f"/v1/tasks/{uuid.uuid4()}/actions/pause"
            assert client.post(path, json={}, headers=WRITER.headers).status_code == 404
        assert client.get("/healthz").status_code == 200
        assert client.get("/nowhere").status_code == 404
        scraped = client.get("/metrics")  # no token needed
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith(TEXT_FORMAT)
    found = samples(scraped.text)
    steer = {"method": "POST", "route": "/v1/tasks/{taskId}/actions/{action}", "status": "404"}
    assert value(found, "switchyard_http_requests_total", **steer) == 2
    assert value(found, "switchyard_http_request_duration_seconds_count", **steer) == 2
    health = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(found, "switchyard_http_requests_total", **health) == 1
    lost = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(found, "switchyard_http_requests_total", **lost) == 1
    assert "/v1/tasks/" + "0" not in scraped.text  # no raw path becomes a label


def test_tasks_by_status_after_a_plan_runs(pg_env: dict[str, str], app: Switchyard) -> None:
    probe = Probe(failures={("globex", "Two"): 1})
    created = app.create_plan(probe_plan("acme", "globex", "initech", max_concurrency=3), "ci")
    with running_scheduler(app, {"probe": probe}):
        wait_until(
            lambda: all(app.get_task(t).status in SETTLED for t in created.task_ids),
            what="every task settled",
        )
    with api_client(pg_env, WRITER) as (client, _):
        found = samples(client.get("/metrics").text)
    assert value(found, "switchyard_tasks", status="completed") == 2
    assert value(found, "switchyard_tasks", status="failed") == 1
    assert value(found, "switchyard_tasks", status="active") == 0
    assert value(found, "switchyard_queue_depth") == 0
    assert value(found, "switchyard_heartbeat_lag_seconds") == 0
    assert value(found, "switchyard_relay_lag_sequences") > 0  # no relay ran
    assert value(found, "switchyard_projector_lag_events") == 0


def test_a_roles_metrics_port_serves_every_role_of_the_process(
    pg_env: dict[str, str], redis_url: str, kafka: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=None,
        redis_url=redis_url,
        kafka_bootstrap_servers=kafka,
        data_dir=tmp_path,
        scheduler_metrics_port=0,
    )
    with container(settings, env=pg_env) as parts:
        parts.scheduler()
        parts.relay()
        parts.projector()
        parts.metrics().tasks(parts.store_engine())  # the API's part as well: registered once
        url = parts.serve_metrics("scheduler_metrics_port")
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/metrics")
        scraped = httpx.get(url, timeout=10)
    assert scraped.status_code == 200
    found = samples(scraped.text)
    assert value(found, "switchyard_tasks", status="active") == 0
    assert value(found, "switchyard_relay_lag_sequences") == 0
    assert value(found, "switchyard_projector_lag_events") == 0
    assert "# TYPE switchyard_stage_duration_seconds histogram" in scraped.text
    assert value(found, "switchyard_task_takeovers_total") == 0
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return
    raise AssertionError("the metrics server still answers after its container closed")


def test_a_metrics_port_in_use_is_a_settings_error_naming_its_variable(
    pg_env: dict[str, str],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(database_url=None, relay_metrics_port=port)
        with container(settings, env=pg_env) as parts, pytest.raises(SettingsInvalid) as refused:
            parts.serve_metrics("relay_metrics_port")
    assert refused.value.code == "settings.invalid"
    assert [(p.field, p.code) for p in refused.value.problems] == [
        ("SWITCHYARD_RELAY_METRICS_PORT", "port_unavailable")
    ]
