"""The events Definitions load beside the jobs they target; resources follow the mode, secrets stay EnvVars."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.events.cdc import cdc_asset_keys
from airbyte_platform.events.defs import build_events_defs
from airbyte_platform.events.inbox import InboxError, inbox_dsn_variable
from airbyte_platform.events.receiver import receiver_config
from airbyte_platform.events.resources import build_events_resources
from airbyte_platform.settings import load_settings

PROD = {
    "AIRBYTE_PLATFORM_MODE": "prod",
    "AIRBYTE_API_URL": "http://airbyte-server:8000",
    "AIRBYTE_API_USERNAME": "airbyte",
    "AIRBYTE_API_PASSWORD": "airbyte-password-value",
    **{
        f"AIRBYTE_{name}_CONNECTION_ID": f"0000-{i}"
        for i, name in enumerate(["STRIPE_S3", "STRIPE_POSTGRES", "HUBSPOT", "PG_PG", "SALESFORCE"])
    },
    "DATABRICKS_HOST": "https://dbc.example.com",
    "DATABRICKS_TOKEN": "t",
    "DATABRICKS_STRIPE_JOB_ID": "1",
    "SNOWFLAKE_ACCOUNT": "a",
    "SNOWFLAKE_USER": "u",
    "SNOWFLAKE_PASSWORD": "p",
    "STRIPE_WEBHOOK_SECRET": "whsec_prod_value",
    "AIRBYTE_WEBHOOK_TOKEN": "path-token-value",
    "WEBHOOK_TRIGGER_TOKEN": "bearer-token-value",
    "WEBHOOK_INBOX_DSN": "postgresql://inbox:inbox-password@db/inbox",
    "CDC_SOURCE_DSN": "postgresql://cdc:cdc-password@db/app",
    "ANALYTICS_POSTGRES_DSN": "postgresql://a:b@db/analytics",
}
JOBS = ("event_driven_sync", "airbyte_event_driven_sync", "postgres_cdc_replication")


def code_location(settings) -> dg.Definitions:
    """The events defs with stand-ins for what other areas define: stream assets and the DAG jobs."""
    keys = [c.asset_key(s) for c in declared_connections() for s in c.streams]
    return dg.Definitions.merge(
        build_events_defs(settings),
        dg.Definitions(
            assets=[dg.AssetSpec(key) for key in keys],
            jobs=[dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys)) for name in JOBS],
            resources=build_events_resources(settings),
        ),
    )


@pytest.mark.parametrize("mode", ["local", "prod"])
def test_sensors_and_checks_load_against_the_dag_jobs(mode, tmp_path):
    settings = load_settings(PROD if mode == "prod" else {"AIRBYTE_PLATFORM_HOME": str(tmp_path)})
    repository = code_location(settings).get_repository_def()
    sensors = {sensor.name: sensor for sensor in repository.sensor_defs}
    assert {name: sensor.job_name if sensor.targets else None for name, sensor in sensors.items()} == {
        "event_driven_sync_webhook_sensor": "event_driven_sync",
        "airbyte_event_driven_sync_webhook_sensor": "airbyte_event_driven_sync",
        "postgres_cdc_replication_webhook_sensor": "postgres_cdc_replication",
        "airbyte_notification_sensor": None,
        "postgres_cdc_lag_sensor": "postgres_cdc_replication",
    }
    statuses = {name: sensor.default_status for name, sensor in sensors.items()}
    running = dg.DefaultSensorStatus.RUNNING
    assert statuses["event_driven_sync_webhook_sensor"] == running  # events launch runs in `make dev` too
    assert (statuses["postgres_cdc_lag_sensor"] == running) == (mode == "prod")
    assert (statuses["airbyte_notification_sensor"] == running) == (mode == "prod")
    check_keys = set(repository.asset_graph.asset_check_keys)
    assert check_keys == {
        dg.AssetCheckKey(key, name)
        for key in cdc_asset_keys()
        for name in ("check_cdc_health", "check_replication_lag")
    }
    assert [str(k.to_user_string()) for k in cdc_asset_keys()] == [
        "postgres/app_postgres/users",
        "postgres/app_postgres/orders",
        "postgres/app_postgres/order_items",
    ]


def test_prod_resources_read_secrets_through_env_vars_only():
    resources = build_events_resources(load_settings(PROD))
    assert resources["webhook_inbox"].dsn == "WEBHOOK_INBOX_DSN" and isinstance(
        resources["webhook_inbox"].dsn, dg.EnvVar
    )
    assert isinstance(resources["cdc_source"].dsn, dg.EnvVar)
    assert type(resources["cdc_source"]).__name__ == "CdcSourceResource"  # no local stand-in in prod
    assert resources["airbyte_job_api"].base_url == "http://airbyte-server:8000/api/public/v1"
    assert isinstance(resources["airbyte_job_api"].password, dg.EnvVar)
    text = repr(resources)
    for secret in ("inbox-password", "cdc-password", "airbyte-password-value"):
        assert secret not in text


def test_local_resources_use_the_local_stand_ins(tmp_path):
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)})
    resources = build_events_resources(settings)
    # The inbox in the local PostgreSQL under the home, the one the receiver falls back to too
    # (events.inbox_dsn); started on the first sensor tick, never at load.
    assert type(resources["webhook_inbox"]).__name__ == "LocalWebhookInboxResource"
    assert (resources["webhook_inbox"].dsn, resources["webhook_inbox"].local_home) == ("", str(tmp_path))
    assert not (tmp_path / "postgres").exists()
    assert type(resources["cdc_source"]).__name__ == "LocalCdcSourceResource"
    assert resources["cdc_source"].local_pgdata == str(tmp_path / "cdc_source_postgres")
    assert not resources["airbyte_job_api"].configured


def test_prod_without_webhook_inbox_dsn_shares_the_analytics_postgres():
    """Receiver and sensors run in different pods in prod: without WEBHOOK_INBOX_DSN they share the
    analytics PostgreSQL, never a local default."""
    prod = {k: v for k, v in PROD.items() if k != "WEBHOOK_INBOX_DSN"}
    settings = load_settings(prod)
    assert inbox_dsn_variable(settings) == "ANALYTICS_POSTGRES_DSN"
    dsn = build_events_resources(settings)["webhook_inbox"].dsn
    assert isinstance(dsn, dg.EnvVar) and dsn == "ANALYTICS_POSTGRES_DSN"


def test_the_receiver_refuses_anything_but_postgresql_in_every_mode(monkeypatch, tmp_path):
    sqlite_file = f"sqlite:///{tmp_path / 'inbox.sqlite3'}"  # the former local default
    for name, value in PROD.items():
        monkeypatch.setenv(name, value)  # the receiver reads secret values through dg.EnvVar
    prod = load_settings(PROD)
    assert receiver_config(prod).inbox_dsn == PROD["WEBHOOK_INBOX_DSN"]
    with pytest.raises(InboxError, match="--inbox has scheme 'sqlite': the webhook inbox is PostgreSQL only"):
        receiver_config(prod, inbox_dsn=sqlite_file)
    monkeypatch.setenv("WEBHOOK_INBOX_DSN", sqlite_file)
    with pytest.raises(InboxError, match="WEBHOOK_INBOX_DSN has scheme 'sqlite'"):
        receiver_config(prod)
    local = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path), "WEBHOOK_INBOX_DSN": sqlite_file})
    with pytest.raises(InboxError, match="leave WEBHOOK_INBOX_DSN unset to use the local PostgreSQL"):
        receiver_config(local)
