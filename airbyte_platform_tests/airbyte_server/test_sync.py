"""Materializing Airbyte assets in prod mode: metadata, checks, subsets, and what fails early."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.airbyte_server.defs import build_prod_ingestion_defs, build_workspace
from airbyte_platform_tests.airbyte_server.conftest import FAST, declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan, StreamConf

SALESFORCE = connection_named("salesforce_to_postgres")


def materialize(settings, op_name: str, selection=None, **overrides) -> dg.ExecuteInProcessResult:
    defs = build_prod_ingestion_defs(settings)
    [assets] = [a for a in defs.assets if a.node_def.name == op_name]
    return dg.materialize(
        [assets],
        resources={"airbyte": build_workspace(settings, **{**FAST, **overrides})},
        selection=selection,
        raise_on_error=False,
    )


def materializations(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    return {
        event.asset_key: event.materialization.metadata for event in result.get_asset_materialization_events()
    }


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return str(failure.step_failure_data.error.message) + str(failure.step_failure_data.user_failure_data)


def test_a_sync_reports_job_link_duration_and_per_stream_rows(prod_settings, airbyte_state):
    airbyte_state.set_plan(declared_id(SALESFORCE), JobPlan(duration_seconds=1.2, rows_per_stream=700))
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    assert result.success
    metadata = materializations(result)
    assert set(metadata) == {SALESFORCE.asset_key(s) for s in SALESFORCE.streams}
    account = metadata[SALESFORCE.asset_key("Account")]
    job_id = account["airbyte/job_id"].value
    assert account["sync_id"].value == job_id
    assert account["airbyte/job_url"].value == (
        f"https://airbyte.example.com/workspaces/{next(iter(airbyte_state.workspaces))}/connections/"
        f"{declared_id(SALESFORCE)}/timeline?jobId={job_id}&openLogs=true"
    )
    assert account["records_synced"].value == 700
    assert account["bytes_synced"].value == 700 * 200
    assert account["airbyte/job_rows_synced"].value == 700 * 4
    assert account["duration_seconds"].value >= 1.0
    assert account["dagster/table_name"].value == "salesforce_raw.account"
    # rows in the table are known only for a full-refresh overwrite stream
    assert "dagster/row_count" not in account
    assert metadata[SALESFORCE.asset_key("Lead")]["dagster/row_count"].value == 700
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 4 and all(c.passed for c in checks)
    assert len(airbyte_state.jobs_of(declared_id(SALESFORCE))) == 1


def test_too_few_rows_fail_the_blocking_check(prod_settings, airbyte_state):
    airbyte_state.set_plan(declared_id(SALESFORCE), JobPlan(duration_seconds=0.1, rows_per_stream=7))
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    checks = result.get_asset_check_evaluations()
    assert checks and not any(c.passed for c in checks)
    assert all(c.metadata["row_count"].value == 7 for c in checks)


def test_without_per_stream_stats_the_job_total_bounds_the_check(prod_settings, airbyte_server):
    airbyte_server.faults.status(404, path="/jobs/get", times=None)
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    assert {c.metadata["row_count_source"].value for c in checks} == {"job total"}
    assert all("records_synced" not in m for m in materializations(result).values())


def test_a_subset_is_reported_and_the_rest_recorded_as_synced(prod_settings):
    lead = SALESFORCE.asset_key("Lead")
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres", selection=[lead])
    assert result.success
    assert set(materializations(result)) == {SALESFORCE.asset_key(s) for s in SALESFORCE.streams}
    step_outputs = {e.asset_key for e in result.all_events if e.is_step_materialization and e.asset_key}
    assert lead in step_outputs
    assert [c.asset_key for c in result.get_asset_check_evaluations()] == [lead]


def test_a_declared_stream_missing_in_airbyte_fails_before_any_job(prod_settings, airbyte_state):
    connection = airbyte_state.connections[declared_id(SALESFORCE)]
    connection.streams = [s for s in connection.streams if s.name != "Opportunity"]
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    assert not result.success
    message = failure_message(result)
    assert "Opportunity" in message and "connections.yaml" in message
    assert airbyte_state.jobs_of(declared_id(SALESFORCE)) == []


def test_an_unknown_connection_id_names_its_variable(prod_settings, airbyte_state, airbyte_server):
    del airbyte_state.connections[declared_id(SALESFORCE)]
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    assert not result.success
    assert "AIRBYTE_SALESFORCE_CONNECTION_ID" in failure_message(result)
    assert airbyte_server.requests["POST /jobs"] == 0


def test_a_discovered_connection_syncs_under_its_discovered_keys(prod_settings, airbyte_state):
    result = materialize(prod_settings, "airbyte_sync_zendesk_snowflake")
    assert result.success
    assert {k.to_user_string() for k in materializations(result)} == {
        "airbyte/zendesk_snowflake/tickets",
        "airbyte/zendesk_snowflake/ticket_metrics",
        "airbyte/zendesk_snowflake/users",
    }
    assert result.get_asset_check_evaluations() == []


@pytest.mark.parametrize("outcome", ["failed", "cancelled"])
def test_a_failed_airbyte_job_fails_the_step_with_its_link(prod_settings, airbyte_state, outcome):
    airbyte_state.set_plan(declared_id(SALESFORCE), JobPlan(duration_seconds=0.1, outcome=outcome))
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    assert not result.success
    assert f"ended {outcome}" in failure_message(result)
    assert materializations(result) == {}


def test_a_failed_job_names_the_connection_and_airbyte_failure_reason(prod_settings, airbyte_state):
    reason = "Salesforce rejected the OAuth refresh token (expired)"
    airbyte_state.set_plan(
        declared_id(SALESFORCE), JobPlan(duration_seconds=0.1, outcome="failed", failure_message=reason)
    )
    result = materialize(prod_settings, "airbyte_sync_salesforce_to_postgres")
    message = failure_message(result)
    assert "'salesforce_to_postgres'" in message and reason in message and "source" in message


def test_one_stream_name_in_two_namespaces_stays_two_assets(prod_settings, airbyte_state):
    """`public.users` and `sales.users` are two tables: two assets, each with its own row count."""
    workspace = next(iter(airbyte_state.workspaces))
    connection_id = airbyte_state.add_connection(
        workspace,
        "App database",
        [
            StreamConf("users", namespace="public"),
            StreamConf("users", namespace="sales"),
            StreamConf("orders", namespace="public"),
        ],
    )
    airbyte_state.set_plan(
        connection_id,
        JobPlan(
            duration_seconds=0.1,
            stream_rows=(("public.users", 120), ("sales.users", 7), ("public.orders", 55)),
        ),
    )
    result = materialize(prod_settings, "airbyte_sync_app_database")
    assert result.success
    rows = {
        key.to_user_string(): meta["records_synced"].value for key, meta in materializations(result).items()
    }
    assert rows == {
        "airbyte/app_database/public_users": 120,
        "airbyte/app_database/sales_users": 7,
        "airbyte/app_database/orders": 55,  # a name in one namespace keeps its plain key
    }
