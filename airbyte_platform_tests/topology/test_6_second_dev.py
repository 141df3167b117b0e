"""A second `make dev` on the same home stops before it starts anything, saying why, and the running
one goes on serving: it used to fail on the receiver's port and, on its way out, stop the first one's
PostgreSQL (its storage, inbox and analytics database)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from airbyte_platform.settings import PROJECT_ROOT

from .conftest import Topology

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]


def _second_dev(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airbyte_platform.dev"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_second_make_dev_on_the_same_home_leaves_the_first_running(topology: Topology) -> None:
    postgres_before = topology.running_postgres()
    second = _second_dev(topology.env)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "make dev is already running on the platform home" in second.stderr
    assert f"pid {topology.process.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    assert topology.running_postgres() == postgres_before  # nothing stopped
    assert requests.get(f"{topology.receiver_url}/health", timeout=10).status_code == 200
    assert topology.ui.asset_keys()  # the UI still reads its storage


def test_a_make_dev_whose_ports_are_taken_says_which_variable_to_change(topology: Topology, tmp_path) -> None:
    """Another home, same ports: refused before PostgreSQL starts, each busy port named."""
    env = {
        **topology.env,
        "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    second = _second_dev(env)
    assert second.returncode == 2, second.stdout + second.stderr
    for variable in ("WEBHOOK_PORT", "DAGSTER_WEBSERVER_PORT", "METRICS_PORT"):
        assert f"(set {variable} to a free port)" in second.stderr
    assert not (tmp_path / "home" / "postgres").exists()  # nothing was started
    assert requests.get(f"{topology.receiver_url}/health", timeout=10).status_code == 200
