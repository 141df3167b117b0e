"""Airflow's variable forms: AIRFLOW_VAR_<NAME> wherever <NAME> is read, and the seeds' large-sync tuning."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.airflow_compat import trigger_airbyte_sync
from airbyte_platform.airflow_compat.hook import AirbyteHook
from airbyte_platform.airflow_compat.sync_tasks import DEFAULT_TUNING, SyncTuning, sync_tuning
from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.airbyte_server.jobs import AirbyteJobTimeoutError
from airbyte_platform.settings import LargeSyncSettings, SettingsError, load_settings
from airbyte_platform_tests.airbyte_server.conftest import declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan
from airbyte_platform_tests.airbyte_server.fake_airbyte.clock import ScaledClock
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

AS_AIRFLOW = {
    (f"AIRFLOW_VAR_{k}" if k != "AIRBYTE_PLATFORM_MODE" else k): v for k, v in PROD_PLACEHOLDERS.items()
}
HUBSPOT = declared_id(connection_named("hubspot_to_postgres"))


def test_an_airflow_deployments_environment_loads_unchanged():
    plain, airflow = load_settings(PROD_PLACEHOLDERS), load_settings(AS_AIRFLOW)
    assert airflow.connection_ids == plain.connection_ids
    assert airflow.databricks is not None and plain.databricks is not None
    assert (airflow.databricks.host, airflow.databricks.stripe_job_id) == (plain.databricks.host, 42)
    assert airflow.databricks.token_var == "AIRFLOW_VAR_DATABRICKS_TOKEN"
    # Secrets stay names, now the names that are actually set: dg.EnvVar reads those.
    assert airflow.airbyte is not None and airflow.airbyte.password_var == "AIRFLOW_VAR_AIRBYTE_API_PASSWORD"
    assert airflow.airbyte.username_var == "AIRFLOW_VAR_AIRBYTE_API_USERNAME"
    assert (
        airflow.snowflake is not None and airflow.snowflake.password_var == "AIRFLOW_VAR_SNOWFLAKE_PASSWORD"
    )
    assert "s3cret-password-value" not in repr(airflow)


def test_the_plain_name_and_the_airflow_form_must_agree():
    same = load_settings({**PROD_PLACEHOLDERS, "AIRFLOW_VAR_AIRBYTE_HUBSPOT_CONNECTION_ID": HUBSPOT})
    assert same.connection_ids["AIRBYTE_HUBSPOT_CONNECTION_ID"] == HUBSPOT
    with pytest.raises(SettingsError) as raised:
        load_settings({**PROD_PLACEHOLDERS, "AIRFLOW_VAR_AIRBYTE_HUBSPOT_CONNECTION_ID": "another-id"})
    assert raised.value.problems == [
        "AIRBYTE_HUBSPOT_CONNECTION_ID and AIRFLOW_VAR_AIRBYTE_HUBSPOT_CONNECTION_ID are both set, "
        "to different values: keep one"
    ]
    assert "another-id" not in str(raised.value)


def test_large_sync_gets_the_seeds_tuning_unless_overridden(tmp_path):
    home = {"AIRBYTE_PLATFORM_HOME": str(tmp_path)}
    assert load_settings(home).large_sync is None
    settings = load_settings({**home, "AIRFLOW_VAR_AIRBYTE_LARGE_SYNC_CONNECTION_ID": "big-one"})
    assert settings.large_sync == LargeSyncSettings(
        "big-one", timeout_minutes=720, max_retries=5, check_interval_seconds=60
    )
    assert sync_tuning("big-one", settings) == SyncTuning(
        timeout_minutes=720, check_interval=60, max_retries=5
    )
    assert sync_tuning("small-one", settings) == DEFAULT_TUNING

    tuned = load_settings(
        {**home, "AIRBYTE_LARGE_SYNC_CONNECTION_ID": "big-one", "AIRBYTE_LARGE_SYNC_TIMEOUT_MINUTES": "1440"}
    )
    assert tuned.large_sync is not None and (
        tuned.large_sync.timeout_minutes,
        tuned.large_sync.max_retries,
    ) == (1440, 5)
    with pytest.raises(
        SettingsError, match="AIRBYTE_LARGE_SYNC_MAX_RETRIES set but AIRBYTE_LARGE_SYNC_CONNECTION_ID is not"
    ):
        load_settings({**home, "AIRBYTE_LARGE_SYNC_MAX_RETRIES": "9"})


def test_airflow_form_credentials_and_large_sync_tuning_reach_the_airbyte_server(
    airbyte_server, airbyte_state, monkeypatch, tmp_path
):
    env = {
        **AS_AIRFLOW,
        "AIRFLOW_VAR_AIRBYTE_API_URL": airbyte_server.url,
        "AIRBYTE_PLATFORM_HOME": str(tmp_path),
        "AIRFLOW_VAR_AIRBYTE_LARGE_SYNC_CONNECTION_ID": HUBSPOT,
        # Override the 12-hour timeout to a few seconds, to see that the large-sync tuning is what applies.
        "AIRBYTE_LARGE_SYNC_TIMEOUT_MINUTES": "1",
        "AIRBYTE_LARGE_SYNC_CHECK_INTERVAL_SECONDS": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    clock = ScaledClock(scale=60)  # a simulated minute per real second
    airbyte_state.clock = clock
    hook = AirbyteHook.from_settings(settings, clock=clock)  # credentials through dg.EnvVar(AIRFLOW_VAR_...)
    assert {c["connectionId"] for c in hook.list_connections()} >= {HUBSPOT}
    assert (
        dg.EnvVar("AIRFLOW_VAR_AIRBYTE_API_PASSWORD").get_value() == PROD_PLACEHOLDERS["AIRBYTE_API_PASSWORD"]
    )

    airbyte_state.set_plan(HUBSPOT, JobPlan(duration_seconds=3600))  # longer than the tuned timeout
    with pytest.raises(AirbyteJobTimeoutError, match="after 60s: cancelled"):
        trigger_airbyte_sync("hubspot_to_postgres", settings=settings, hook=hook)
    [job] = airbyte_state.jobs_of(HUBSPOT)
    assert job.cancelled_at is not None
