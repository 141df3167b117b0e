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


# Airbyte alone, as a team moving its first DAG (airbyte_stripe_to_postgres) would set it.
AIRBYTE_ONLY = {
    "AIRBYTE_PLATFORM_MODE": "prod",
    "AIRBYTE_API_URL": "http://airbyte-server:8000",
    "AIRBYTE_API_USERNAME": "airbyte",
    "AIRBYTE_API_PASSWORD": "s3cret-password-value",
    "ANALYTICS_POSTGRES_DSN": "postgresql://an:pw@db:5432/analytics",
    "AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID": "00000000-0000-0000-0000-000000000002",
}


def test_one_error_lists_every_missing_airbyte_variable_and_nothing_of_what_is_off():
    with pytest.raises(SettingsError) as raised:
        load_settings({"AIRBYTE_PLATFORM_MODE": "prod"})
    message = str(raised.value)
    for name in ("AIRBYTE_API_URL", "AIRBYTE_API_USERNAME", "ANALYTICS_POSTGRES_DSN"):
        assert name in message
    # Integrations with none of their variables are off, and each connection is off without its id.
    for name in ("DATABRICKS", "SNOWFLAKE", "CDC_SOURCE_DSN", "STRIPE_WEBHOOK_SECRET", "CONNECTION_ID"):
        assert name not in message
    assert len(raised.value.problems) == 3


def test_only_airbyte_set_loads_with_every_integration_disabled():
    settings = load_settings(AIRBYTE_ONLY)
    assert settings.disabled == {"databricks", "snowflake", "cdc", "webhooks"}
    assert not any(settings.is_enabled(part) for part in ("databricks", "snowflake", "cdc", "webhooks"))
    assert settings.connection_enabled("AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID")
    assert not settings.connection_enabled("AIRBYTE_STRIPE_S3_CONNECTION_ID")
    # With everything set, nothing is off.
    assert load_settings(PROD_PLACEHOLDERS).disabled == frozenset()
    # Locally everything runs on its stand-in.
    local = load_settings({})
    assert local.disabled == frozenset() and local.connection_enabled("AIRBYTE_STRIPE_S3_CONNECTION_ID")


def test_a_partly_set_snowflake_is_one_error_naming_what_it_misses():
    with pytest.raises(SettingsError) as raised:
        load_settings({**AIRBYTE_ONLY, "SNOWFLAKE_ACCOUNT": "acme-xy12345", "SNOWFLAKE_WAREHOUSE": "BI"})
    assert raised.value.problems == [
        "snowflake (enabled by SNOWFLAKE_ACCOUNT, SNOWFLAKE_WAREHOUSE): SNOWFLAKE_USER is not set (Snowflake connection)",
        "snowflake (enabled by SNOWFLAKE_ACCOUNT, SNOWFLAKE_WAREHOUSE): SNOWFLAKE_PASSWORD is not set (Snowflake connection)",
    ]
    assert "cannot start in 'prod' mode" in str(raised.value)


def test_every_partly_set_integration_is_listed_in_the_same_error():
    environ = {
        **AIRBYTE_ONLY,
        "DATABRICKS_HOST": "https://dbc-123.cloud.databricks.com",
        "STRIPE_WEBHOOK_SECRET": "whsec_test",
        "CDC_SLOT_NAME": "airbyte_slot",
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    problems = raised.value.problems
    by_part = {
        part: [p for p in problems if p.startswith(part + " (")] for part in ("databricks", "webhooks", "cdc")
    }
    assert len(problems) == sum(len(found) for found in by_part.values())
    assert any("DATABRICKS_TOKEN" in p for p in by_part["databricks"])
    assert any("DATABRICKS_STRIPE_JOB_ID" in p for p in by_part["databricks"])
    assert {"AIRBYTE_WEBHOOK_TOKEN", "WEBHOOK_TRIGGER_TOKEN"} == {
        name
        for p in by_part["webhooks"]
        for name in ("AIRBYTE_WEBHOOK_TOKEN", "WEBHOOK_TRIGGER_TOKEN")
        if name in p
    }
    # CDC needs its source and the connection it watches.
    assert any("CDC_SOURCE_DSN" in p for p in by_part["cdc"])
    assert any("AIRBYTE_PG_PG_CONNECTION_ID" in p for p in by_part["cdc"])
    assert all("SNOWFLAKE" not in p for p in problems)


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


def test_gx_context_root_dir_must_be_a_gx_project(tmp_path):
    assert load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)}).gx_context_root_dir is None
    with pytest.raises(SettingsError) as raised:
        load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path), "GX_CONTEXT_ROOT_DIR": str(tmp_path / "gx")})
    assert f"GX_CONTEXT_ROOT_DIR={str(tmp_path / 'gx')!r} is not a Great Expectations project" in str(
        raised.value
    )
    # Both layouts: the seeds' folder holding great_expectations.yml, and a GX 1.x project with gx/ in it.
    (tmp_path / "airflow_gx").mkdir()
    (tmp_path / "airflow_gx" / "great_expectations.yml").write_text("config_version: 4\n")
    (tmp_path / "project" / "gx").mkdir(parents=True)
    (tmp_path / "project" / "gx" / "great_expectations.yml").write_text("config_version: 4\n")
    for folder in ("airflow_gx", "project"):
        environ = {
            "AIRBYTE_PLATFORM_HOME": str(tmp_path),
            "AIRFLOW_VAR_GX_CONTEXT_ROOT_DIR": str(tmp_path / folder),
        }
        assert load_settings(environ).gx_context_root_dir == tmp_path / folder
