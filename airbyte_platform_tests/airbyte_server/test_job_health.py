"""A job that no Airbyte worker picks up is reported with the seeds' hint and cancelled, long before
the 24-hour poll timeout; a job that starts in time is waited for however long it runs."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.airbyte_server.defs import build_workspace
from airbyte_platform.ingestion.airbyte_server.jobs import AirbyteJobPendingError, AirbyteJobTimeoutError
from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform.settings import SettingsError, load_settings
from airbyte_platform_tests.airbyte_server.conftest import declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

CONNECTION = declared_id(connection_named("hubspot_to_postgres"))


@pytest.fixture
def live_workspace(workspace: AirbyteServerWorkspace) -> Iterator[AirbyteServerWorkspace]:
    with workspace.process_config_and_initialize_cm() as initialized:
        yield initialized


def test_a_job_stuck_pending_is_reported_with_the_hint_and_cancelled(live_workspace, airbyte_state):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=1, pending_seconds=3600))
    runner = live_workspace.job_runner(dg.get_dagster_logger())
    runner.pending_timeout = 0.3
    with pytest.raises(AirbyteJobPendingError) as error:
        runner.run(CONNECTION)
    assert "still pending after" in error.value.description
    assert "kubectl get pods -n integration -l app=airbyte,component=worker" in error.value.description
    assert error.value.metadata["airbyte/pending_seconds"].value >= 0.3
    [job] = airbyte_state.jobs_of(CONNECTION)
    assert job.status(airbyte_state.clock.now()) == "cancelled"


def test_a_job_that_leaves_pending_in_time_is_waited_for(live_workspace, airbyte_state):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=0.8, pending_seconds=0.1))
    runner = live_workspace.job_runner(dg.get_dagster_logger())
    runner.pending_timeout = 0.5  # shorter than the run, longer than the pending phase
    finished = runner.run(CONNECTION)
    assert finished.job["status"] == "succeeded"


def test_the_pending_limit_comes_from_the_settings(tmp_path):
    settings = load_settings(
        {**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(tmp_path), "AIRBYTE_PENDING_TIMEOUT_MINUTES": "45"}
    )
    assert build_workspace(settings).pending_timeout == 45 * 60
    assert (
        build_workspace(
            load_settings({**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(tmp_path)})
        ).pending_timeout
        == 30 * 60
    )


def _target(workspace: AirbyteServerWorkspace, connection_id: str, name: str, declared=None):
    from airbyte_platform.ingestion.sync_target import SyncTarget

    return SyncTarget(
        connection_id=connection_id,
        name=name,
        op_name=f"airbyte_sync_{name}",
        id_source="test",
        workspace_id="ws",
        streams=(),
        declared=declared,
    )


def test_a_declared_connection_s_limits_drive_its_jobs(live_workspace, airbyte_state):
    from dataclasses import replace

    from airbyte_platform.settings import JobLimits

    # The seeds' large-sync values, and a timeout short enough to watch it cancel the job.
    declared = replace(
        connection_named("hubspot_to_postgres"),
        job_limits=JobLimits(timeout_minutes=0.005, check_interval=60, max_retries=5),
    )
    runner = live_workspace.job_runner_for(
        _target(live_workspace, CONNECTION, declared.name, declared), None, "ws"
    )
    assert runner.poll_timeout == pytest.approx(0.3)
    assert runner.schedule.max_interval == 60
    assert runner.client.request_max_retries == 5
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=3600))
    with pytest.raises(AirbyteJobTimeoutError):
        runner.run(CONNECTION)
    [job] = airbyte_state.jobs_of(CONNECTION)
    assert job.status(airbyte_state.clock.now()) == "cancelled"


def test_undeclared_connections_take_their_limits_from_the_setting(tmp_path):
    settings = load_settings(
        {
            **PROD_PLACEHOLDERS,
            "AIRBYTE_PLATFORM_HOME": str(tmp_path),
            "AIRBYTE_JOB_LIMITS": '{"big_sync": {"timeout_minutes": 720, "check_interval": 60, "max_retries": 5}}',
        }
    )
    workspace = build_workspace(settings)
    limits = workspace.limits_for(_target(workspace, "c-1", "big_sync"))
    assert (limits.timeout_minutes, limits.check_interval, limits.max_retries) == (720, 60, 5)
    assert workspace.limits_for(_target(workspace, "c-2", "other")).timeout_minutes is None


def test_bad_limits_say_where_and_what(tmp_path):
    from airbyte_platform.core.catalog import CatalogError, parse_catalog

    with pytest.raises(
        SettingsError, match=r"AIRBYTE_JOB_LIMITS\['big_sync'\]\.timeout_minutes must be a positive number"
    ):
        load_settings(
            {
                "AIRBYTE_PLATFORM_HOME": str(tmp_path),
                "AIRBYTE_JOB_LIMITS": '{"big_sync": {"timeout_minutes": 0}}',
            }
        )
    document = {
        "connections": [
            {
                "name": "x",
                "source": "stripe",
                "destination": "lake",
                "connection_id_variable": "AIRBYTE_STRIPE_S3_CONNECTION_ID",
                "local": {"connector": "sample:stripe"},
                "streams": [{"name": "charges"}],
                "airbyte_job": {"timeout_minute": 720},
            }
        ]
    }
    with pytest.raises(CatalogError, match=r"connections\.yaml: x: airbyte_job: unknown timeout_minute"):
        parse_catalog(document)
