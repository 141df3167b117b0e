"""A prod deployment that enables one part at a time loads, without the parts it left out, and says so."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.definitions import build_definitions
from airbyte_platform.enabled_parts import enablement_summary
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.test_settings import AIRBYTE_ONLY, PROD_PLACEHOLDERS


def _load(tmp_path, environ: dict[str, str]) -> tuple[dg.Definitions, str]:
    settings = load_settings({**environ, "AIRBYTE_PLATFORM_HOME": str(tmp_path), "AIRBYTE_DISCOVERY": "off"})
    defs = build_definitions(settings)
    return defs, enablement_summary(settings, [job.name for job in defs.jobs or []])


def _kinds(graph) -> set[str]:
    return {kind for key in graph.get_all_asset_keys() for kind in graph.get(key).kinds}


def test_only_airbyte_set_loads_its_connection_and_the_jobs_that_need_nothing_else(tmp_path):
    defs, summary = _load(tmp_path, AIRBYTE_ONLY)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {f"postgres/stripe/{s}" for s in ("charges", "customers", "invoices", "subscriptions")}
    assert not _kinds(graph) & {"databricks", "snowflake"}
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    assert "postgres/stripe/charges:gx_suite" in checks
    assert not any(name.endswith(("check_cdc_health", "check_replication_lag")) for name in checks)
    jobs = {job.name for job in defs.jobs or []}
    assert {
        "airbyte_stripe_to_postgres",
        "resilient_sync",
        "event_driven_sync",
        "airbyte_event_driven_sync",
    } <= jobs
    assert not jobs & {"stripe_datalake_pipeline", "multi_source_analytics", "postgres_cdc_replication"}
    assert {s.name for s in defs.schedules or []} == {"airbyte_stripe_to_postgres_schedule"}
    sensors = {s.name for s in defs.sensors or []}
    assert not any(name.endswith("_webhook_sensor") for name in sensors)
    assert "postgres_cdc_lag_sensor" not in sensors and "transforms_automation_sensor" not in sensors
    for job in defs.jobs or []:
        defs.resolve_job_def(job.name)  # every job left in resolves
    assert "enabled: airbyte (prod, 1 of 5 declared connections)" in summary
    for part in ("databricks", "snowflake", "cdc", "webhooks"):
        assert f"{part} (set " in summary.split("disabled:")[1]
    assert "connection stripe_to_s3 (set AIRBYTE_STRIPE_S3_CONNECTION_ID to enable)" in summary
    assert "stripe_datalake_pipeline" in summary.split("jobs left out")[1]


def test_snowflake_without_databricks_keeps_the_warehouse_tables(tmp_path):
    snowflake = {k: v for k, v in PROD_PLACEHOLDERS.items() if k.startswith("SNOWFLAKE_")}
    defs, summary = _load(tmp_path, {**AIRBYTE_ONLY, **snowflake})
    graph = defs.resolve_asset_graph()
    assert "snowflake" in _kinds(graph) and "databricks" not in _kinds(graph)
    # What the tables read from left-out parts shows as external assets, never materializable here.
    assert not graph.get(dg.AssetKey(["processed", "stripe"])).is_materializable
    assert not graph.get(dg.AssetKey(["postgres", "hubspot", "contacts"])).is_materializable
    assert graph.get(dg.AssetKey(["snowflake", "customers_unified"])).is_materializable
    assert "snowflake" in (defs.resources or {}) and "databricks_transform" not in (defs.resources or {})
    assert summary.startswith(
        "airbyte_platform prod: enabled: airbyte (prod, 1 of 5 declared connections), snowflake;"
    )


def test_everything_set_leaves_nothing_out(tmp_path):
    defs, summary = _load(tmp_path, PROD_PLACEHOLDERS)
    assert "disabled: none" in summary and "jobs left out" not in summary
    assert len(defs.jobs or []) == 11
