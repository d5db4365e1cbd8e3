"""`switchyard dev` in a subprocess on a fresh data folder: every role and the HTTP API in
one process, reachable with the token it prints, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from switchyard.adapters.cli.published import read_published
from tests.support.cli import CLI, EXAMPLE
from tests.support.dev import Dev, demo_env, processes_in
from tests.support.waiting import wait_until


def test_dev_serves_the_api_with_the_printed_token_and_stops_cleanly_on_ctrl_c(dev: Dev) -> None:
    url, token = dev.line("API"), dev.line("token")
    assert url and token and token.startswith("sy_"), dev.printed()
    assert read_published(dev.data_dir).api_url == url
    assert read_published(dev.data_dir).token == token
    assert (dev.data_dir / "api.token").stat().st_mode & 0o077 == 0
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        plan = {
            "tenants": [
                {
                    "tenantId": "acme",
                    "serviceType": "blue-green-gateway",
                    "targetVersion": "2.5.0",
                    "endpoints": ["127.0.0.1:1"],
                }
            ]
        }
        refused = client.post("/v1/plans", json=plan)
        assert refused.status_code == 401
        created = client.post("/v1/plans", json=plan, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text
        assert len(created.json()["taskIds"]) == 1
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(90) == 0, dev.printed()
    assert "Traceback" not in dev.printed()
    assert read_published(dev.data_dir).api_url is None, "left its address behind"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=5)
    wait_until(lambda: not processes_in(dev.data_dir), 30, "dev's servers stopping")


def test_dev_on_a_port_in_use_fails_with_its_code_and_starts_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [CLI, "dev", "--api-port", str(port)],
            env=demo_env(data_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "[api.address_in_use]" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not data_dir.exists(), "started servers with no port for the API"


def test_demo_through_the_api_of_dev_completes_every_tenant_of_the_example(dev: Dev) -> None:
    url, token = dev.line("API"), dev.line("token")
    assert url and token
    done = subprocess.run(
        [CLI, "demo", "--plan", str(EXAMPLE), "--api", url],  # the token: dev's published one
        env=demo_env(dev.data_dir),
        cwd=dev.data_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr + dev.printed()
    for tenant in [t["tenantId"] for t in yaml.safe_load(EXAMPLE.read_text())["tenants"]]:
        assert re.search(rf"^\s*{re.escape(tenant)}\s+│\s+COMPLETED\s+│", done.stdout, re.M), (
            f"{tenant} not shown as COMPLETED:\n{done.stdout}"
        )


def test_demo_with_a_token_the_api_refuses_fails_with_the_status_and_problem(dev: Dev) -> None:
    done = subprocess.run(
        [CLI, "demo", "--plan", str(EXAMPLE), "--api", str(dev.line("API"))],
        env={**demo_env(dev.data_dir), "SWITCHYARD_TOKEN": "sy_not-a-token"},
        cwd=dev.data_dir.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "[api.call_failed]" in done.stderr and "401" in done.stderr, done.stderr
    assert "[auth.unauthenticated]" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
