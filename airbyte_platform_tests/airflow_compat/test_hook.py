"""The seeds' hook API against the loopback Airbyte server (prod) and the embedded runner (local).

Calls are written exactly as the seeds' Airflow code wrote them; only the import changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airbyte_platform.airflow_compat import (
    AirbyteHook,
    LocalAirbyteHook,
    SyncValidationError,
    trigger_airbyte_sync,
    validate_sync_results,
)
from airbyte_platform.core.catalog import connection_named, declared_connections
from airbyte_platform.ingestion.airbyte_server.errors import AirbyteApiError
from airbyte_platform.ingestion.airbyte_server.jobs import AirbyteJobFailedError, AirbyteJobTimeoutError
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.airbyte_server.conftest import PASSWORD, USERNAME, declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan
from airbyte_platform_tests.airbyte_server.fake_airbyte.clock import ScaledClock
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

STRIPE_PG = declared_id(connection_named("stripe_to_postgres"))


class FakeTaskInstance:
    """What Airflow passes as `ti`: xcom_push / xcom_pull by key."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, key: str, task_ids: Any = None) -> Any:
        return self.xcom.get(key)


@pytest.fixture
def hook(airbyte_server) -> AirbyteHook:
    return AirbyteHook(
        api_url=airbyte_server.url, username=USERNAME, password=PASSWORD, max_retries=5, retry_delay=0.01
    )


def test_the_seeds_large_sync_calls_work_unchanged(airbyte_server, airbyte_state):
    # A 20-minute sync on a clock 120 times faster (10 s). check_interval=20 is below the adaptive
    # schedule's own ceiling (55 s), so noticing the end within it shows the argument is honored.
    clock = ScaledClock(scale=120)
    airbyte_state.clock = clock
    airbyte_state.set_plan(STRIPE_PG, JobPlan(duration_seconds=20 * 60, rows_per_stream=250))
    hook = AirbyteHook(
        api_url=airbyte_server.url, username=USERNAME, password=PASSWORD, max_retries=5, clock=clock
    )

    job_info = hook.trigger_sync(connection_id=STRIPE_PG, retry_on_failure=True)
    finished = hook.wait_for_job_completion(
        job_id=job_info.get("jobId"), timeout_minutes=720, check_interval=20
    )

    assert finished["jobId"] == job_info["jobId"] and finished["status"] == "succeeded"
    assert finished["rowsSynced"] == 250 * len(connection_named("stripe_to_postgres").streams)
    # Seen ended within check_interval, plus 15 simulated seconds (125 ms) for the request itself.
    assert airbyte_state.end_read_interval[job_info["jobId"]] <= 20 + 15
    assert [j.job_id for j in airbyte_state.jobs_of(STRIPE_PG)] == [job_info["jobId"]]


def test_trigger_attaches_to_a_running_sync_and_survives_a_lost_trigger(hook, airbyte_state, airbyte_server):
    running = airbyte_state.trigger(STRIPE_PG, "sync")
    assert hook.trigger_sync(STRIPE_PG)["jobId"] == running.job_id  # attached, not a second job
    hook.wait_for_job_completion(running.job_id, timeout_minutes=1, check_interval=1)

    airbyte_server.faults.drop(after=True, method="POST", path="/jobs")  # job created, response lost
    job = hook.trigger_sync(STRIPE_PG, retry_on_failure=True)
    assert (
        len(airbyte_state.jobs_of(STRIPE_PG)) == 2
        and job["jobId"] == airbyte_state.jobs_of(STRIPE_PG)[-1].job_id
    )


def test_failed_and_timed_out_jobs_raise_with_the_job(hook, airbyte_state):
    airbyte_state.set_plan(STRIPE_PG, JobPlan(duration_seconds=0.2, outcome="failed"))
    failed = hook.trigger_sync(STRIPE_PG)
    with pytest.raises(AirbyteJobFailedError, match=f"job {failed['jobId']} .* ended failed"):
        hook.wait_for_job_completion(failed["jobId"], timeout_minutes=1, check_interval=1)

    airbyte_state.set_plan(STRIPE_PG, JobPlan(duration_seconds=600))
    slow = hook.trigger_sync(STRIPE_PG)
    with pytest.raises(AirbyteJobTimeoutError, match="cancelled"):
        hook.wait_for_job_completion(slow["jobId"], timeout_minutes=0.01, check_interval=0.2)
    assert airbyte_state.job(slow["jobId"]).cancelled_at is not None  # no orphan sync left running


def test_connection_info_and_listing(hook):
    info = hook.get_connection_info(STRIPE_PG)
    assert info["connectionId"] == STRIPE_PG and info["name"] == connection_named("stripe_to_postgres").title
    listed = {c["connectionId"] for c in hook.list_connections()}
    assert {declared_id(c) for c in declared_connections()} <= listed
    with pytest.raises(AirbyteApiError, match="connection no-such-id"):
        hook.get_connection_info("no-such-id")


def test_wrong_credentials_name_the_variables_not_the_values(airbyte_server):
    hook = AirbyteHook(
        api_url=airbyte_server.url, username=USERNAME, password="not-the-password", max_retries=0
    )
    with pytest.raises(AirbyteApiError) as raised:
        hook.list_connections()
    assert "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD" in str(raised.value)
    assert "not-the-password" not in str(raised.value)


def test_trigger_and_validate_push_what_the_seeds_pushed_to_xcom(
    airbyte_server, airbyte_state, monkeypatch, tmp_path
):
    env = {**PROD_PLACEHOLDERS, "AIRBYTE_API_URL": airbyte_server.url, "AIRBYTE_PLATFORM_HOME": str(tmp_path)}
    for name in ("AIRBYTE_API_USERNAME", "AIRBYTE_API_PASSWORD"):
        monkeypatch.setenv(name, env[name])
    settings = load_settings(env)
    airbyte_state.set_plan(STRIPE_PG, JobPlan(duration_seconds=0.2, rows_per_stream=30))
    ti = FakeTaskInstance()

    # A declared connection name resolves to its Airbyte id through AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID.
    result = trigger_airbyte_sync(
        connection_id="stripe_to_postgres",
        validate_connection=True,
        task_instance=ti,
        settings=settings,
        check_interval=1,
    )
    assert result["connection_id"] == STRIPE_PG and result["status"] == "succeeded"
    assert result["records_synced"] == 30 * len(connection_named("stripe_to_postgres").streams) == 120
    assert ti.xcom["airbyte_job_id"] == result["job_id"]

    stats = validate_sync_results(min_records=100, ti=ti)  # reads the sync result from XCom, as in Airflow
    assert stats["passed"] and stats["records_synced"] == 120 and ti.xcom["sync_stats"] == stats

    with pytest.raises(SyncValidationError, match="120 records: at least 500 were required"):
        validate_sync_results(result, min_records=500, task_instance=ti)
    assert ti.xcom["sync_stats"]["passed"] is False  # recorded before failing


def test_validate_connection_refuses_an_inactive_connection(hook, airbyte_state):
    airbyte_state.connections[STRIPE_PG].status = "inactive"
    with pytest.raises(ValueError, match="is inactive: enable it in Airbyte"):
        trigger_airbyte_sync(STRIPE_PG, validate_connection=True, hook=hook)
    assert airbyte_state.jobs_of(STRIPE_PG) == []


def test_locally_the_same_calls_run_the_embedded_runner(tmp_path: Path):
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")})
    hook = LocalAirbyteHook(settings)
    assert {c["connectionId"] for c in hook.list_connections()} == {c.name for c in declared_connections()}

    ti = FakeTaskInstance()
    result = trigger_airbyte_sync("stripe_to_s3", validate_connection=True, task_instance=ti, hook=hook)
    stripe = connection_named("stripe_to_s3")
    assert result["status"] == "succeeded" and result["records_synced"] > 0
    job = hook.get_job_info(result["job_id"])
    assert set(job["streams"]) == {s.name for s in stripe.streams}
    assert sum(job["streams"].values()) == result["records_synced"]
    assert (tmp_path / "home" / "lake").exists()
    assert validate_sync_results(min_records=100, ti=ti)["passed"]
    with pytest.raises(ValueError, match="unknown connection 'nope'"):
        hook.trigger_sync("nope")


def test_the_deployment_hook_reads_its_settings_and_keeps_the_callers_retries(prod_settings, airbyte_server):
    hook = AirbyteHook.from_settings(prod_settings, max_retries=7)
    assert hook.client.request_max_retries == 7
    assert STRIPE_PG in {c["connectionId"] for c in hook.list_connections()}
