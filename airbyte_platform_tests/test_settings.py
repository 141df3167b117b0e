from __future__ import annotations

import pytest

from airbyte_platform.settings import SettingsError, load_settings

PROD_PLACEHOLDERS = {
    "AIRBYTE_PLATFORM_MODE": "prod",
    "AIRBYTE_API_URL": "http://airbyte-server.integration.svc.cluster.local:8000",
    "AIRBYTE_API_USERNAME": "airbyte",
    "AIRBYTE_API_PASSWORD": "s3cret-password-value",
    "AIRBYTE_STRIPE_S3_CONNECTION_ID": "00000000-0000-0000-0000-000000000001",
    "AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID": "00000000-0000-0000-0000-000000000002",
    "AIRBYTE_HUBSPOT_CONNECTION_ID": "00000000-0000-0000-0000-000000000003",
    "AIRBYTE_PG_PG_CONNECTION_ID": "00000000-0000-0000-0000-000000000004",
    "AIRBYTE_SALESFORCE_CONNECTION_ID": "00000000-0000-0000-0000-000000000005",
    "DATABRICKS_HOST": "https://dbc-123.cloud.databricks.com",
    "DATABRICKS_TOKEN": "dapi-secret-token",
    "DATABRICKS_STRIPE_JOB_ID": "42",
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_USER": "dagster",
    "SNOWFLAKE_PASSWORD": "snowflake-secret",
    "STRIPE_WEBHOOK_SECRET": "whsec_test",
    "AIRBYTE_WEBHOOK_TOKEN": "airbyte-path-token",
    "WEBHOOK_TRIGGER_TOKEN": "trigger-token",
    "CDC_SOURCE_DSN": "postgresql://cdc:pw@db:5432/app",
    "ANALYTICS_POSTGRES_DSN": "postgresql://an:pw@db:5432/analytics",
}


def test_local_is_the_default_and_needs_nothing(tmp_path):
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)})
    assert settings.mode == "local"
    assert settings.lake_root == str(tmp_path / "lake")
    assert settings.connection_ids == {}


def test_prod_reads_the_airflow_variable_names():
    settings = load_settings(PROD_PLACEHOLDERS)
    assert settings.mode == "prod"
    assert settings.connection_ids["AIRBYTE_STRIPE_S3_CONNECTION_ID"].endswith("0001")
    assert settings.airbyte is not None and settings.airbyte.api_url.endswith(":8000")
    assert settings.databricks is not None and settings.databricks.stripe_job_id == 42
    assert settings.lake_root == "s3://biz-datalake-dev"


def test_prod_keeps_secrets_as_variable_names_only():
    settings = load_settings(PROD_PLACEHOLDERS)
    text = repr(settings)
    for secret in ("s3cret-password-value", "dapi-secret-token", "snowflake-secret", "whsec_test", "pw@db"):
        assert secret not in text
    assert settings.airbyte is not None and settings.airbyte.password_var == "AIRBYTE_API_PASSWORD"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("AIRBYTE_STRIPE_PG_CONNECTION_ID", "AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID"),
        ("AIRBYTE_HUBSPOT_PG_CONNECTION_ID", "AIRBYTE_HUBSPOT_CONNECTION_ID"),
    ],
)
def test_seed_aliases_are_accepted(alias, canonical):
    environ = {k: v for k, v in PROD_PLACEHOLDERS.items() if k != canonical}
    environ[alias] = "alias-id"
    assert load_settings(environ).connection_ids[canonical] == "alias-id"


def test_one_error_lists_every_missing_prod_variable():
    with pytest.raises(SettingsError) as raised:
        load_settings({"AIRBYTE_PLATFORM_MODE": "prod"})
    message = str(raised.value)
    for name in (
        "AIRBYTE_API_URL",
        "AIRBYTE_STRIPE_S3_CONNECTION_ID",
        "AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID",
        "AIRBYTE_HUBSPOT_CONNECTION_ID",
        "AIRBYTE_PG_PG_CONNECTION_ID",
        "AIRBYTE_SALESFORCE_CONNECTION_ID",
        "DATABRICKS_STRIPE_JOB_ID",
        "SNOWFLAKE_ACCOUNT",
        "SNOWFLAKE_PASSWORD",
    ):
        assert name in message
    assert len(raised.value.problems) >= 15


def test_malformed_values_are_named():
    environ = {
        **PROD_PLACEHOLDERS,
        "DATABRICKS_STRIPE_JOB_ID": "forty-two",
        "AIRBYTE_API_URL": "airbyte:8000",
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert "DATABRICKS_STRIPE_JOB_ID='forty-two' is not an integer" in str(raised.value)
    assert "AIRBYTE_API_URL='airbyte:8000' is not a http/https URL" in str(raised.value)
    assert len(raised.value.problems) == 2


def test_unknown_mode_is_rejected():
    with pytest.raises(SettingsError, match="must be one of local, prod"):
        load_settings({"AIRBYTE_PLATFORM_MODE": "staging"})


def test_pipes_mode_needs_a_cluster_and_not_the_job_id():
    environ = {k: v for k, v in PROD_PLACEHOLDERS.items() if k != "DATABRICKS_STRIPE_JOB_ID"}
    with pytest.raises(SettingsError) as raised:
        load_settings({**environ, "DATABRICKS_TRANSFORM_MODE": "pipes"})
    assert "DATABRICKS_CLUSTER_ID" in str(raised.value)
    assert "DATABRICKS_STRIPE_JOB_ID" not in str(raised.value)
    settings = load_settings(
        {**environ, "DATABRICKS_TRANSFORM_MODE": "pipes", "DATABRICKS_CLUSTER_ID": "0101-x"}
    )
    assert settings.databricks is not None and settings.databricks.pipes_cluster_id == "0101-x"


def test_cdc_heartbeats_are_written_only_where_opted_in(tmp_path):
    home = {"AIRBYTE_PLATFORM_HOME": str(tmp_path)}
    assert load_settings(home).cdc.write_heartbeat  # locally the CDC source is our stand-in
    assert not load_settings({**PROD_PLACEHOLDERS, **home}).cdc.write_heartbeat
    assert load_settings({**PROD_PLACEHOLDERS, **home, "CDC_WRITE_HEARTBEAT": "true"}).cdc.write_heartbeat
    with pytest.raises(SettingsError, match="CDC_WRITE_HEARTBEAT='maybe' must be true or false"):
        load_settings({**home, "CDC_WRITE_HEARTBEAT": "maybe"})
