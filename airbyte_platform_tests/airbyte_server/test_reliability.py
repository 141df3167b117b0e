"""Reliability: syncs through 30 % transient failures, a 401, and SIGTERM to a real `dagster` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.airbyte_server.defs import build_prod_ingestion_defs, build_workspace
from airbyte_platform_tests.airbyte_server.conftest import FAST, declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan

HUBSPOT = connection_named("hubspot_to_postgres")


def all_assets(settings) -> list[dg.AssetsDefinition]:
    return list(build_prod_ingestion_defs(settings).assets)


def test_with_30_percent_of_requests_failing_every_sync_completes_with_one_job_each(
    prod_settings, airbyte_state, airbyte_server
):
    assets = all_assets(prod_settings)  # discovery before the faults start
    airbyte_server.faults.transient(0.3, retry_after=0.02)
    result = dg.materialize(
        assets,
        resources={"airbyte": build_workspace(prod_settings, **FAST, request_max_retries=8)},
        raise_on_error=False,
    )
    assert result.success
    assert len(assets) == len(airbyte_state.connections)
    for connection_id in airbyte_state.connections:
        assert len(airbyte_state.jobs_of(connection_id)) == 1, connection_id
    injected = airbyte_server.faults.injected
    total = sum(airbyte_server.requests.values())
    assert 0.2 <= sum(injected.values()) / total <= 0.4
    assert injected["drop_after"] > 0 and injected["status:429"] > 0  # the hard cases did happen
    assert len(result.get_asset_materialization_events()) == sum(len(list(a.keys)) for a in assets)


def test_a_401_fails_the_sync_in_one_request(prod_settings, airbyte_server, monkeypatch):
    assets = [a for a in all_assets(prod_settings) if a.node_def.name == "airbyte_sync_hubspot_to_postgres"]
    airbyte_server.reset_counts()
    monkeypatch.setenv("AIRBYTE_API_PASSWORD", "rotated-elsewhere")
    result = dg.materialize(
        assets, resources={"airbyte": build_workspace(prod_settings, **FAST)}, raise_on_error=False
    )
    assert not result.success
    assert airbyte_server.total_requests == 1
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "401" in message and "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD" in message
    assert "rotated-elsewhere" not in message


def test_sigterm_to_a_running_materialization_cancels_the_airbyte_job_within_5_seconds(
    prod_env, airbyte_state, tmp_path: Path
):
    connection_id = declared_id(HUBSPOT)
    airbyte_state.set_plan(connection_id, JobPlan(duration_seconds=3600))
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, **prod_env, "DAGSTER_HOME": str(dagster_home), "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "dagster", "asset", "materialize",
            "-m", "airbyte_platform_tests.airbyte_server.prod_location",
            "--select", HUBSPOT.asset_key("contacts").to_user_string(),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while airbyte_state.active_job(connection_id) is None:
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the materialization never started an Airbyte job"
            time.sleep(0.1)
        [job] = airbyte_state.jobs_of(connection_id)
        time.sleep(1.0)  # let it settle into polling
        process.send_signal(signal.SIGTERM)
        terminated = time.monotonic()
        while job.status(airbyte_state.clock.now()) != "cancelled":
            assert time.monotonic() - terminated < 5.0, "the Airbyte job was not cancelled within 5 s"
            time.sleep(0.05)
        cancel_delay = time.monotonic() - terminated
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    print(f"Airbyte job cancelled {cancel_delay:.2f}s after SIGTERM")
    assert cancel_delay < 5.0
    assert process.returncode != 0
