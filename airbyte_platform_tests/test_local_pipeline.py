"""The main pipeline end to end on the embedded default: real connector subprocesses, local Spark,
fakesnow, with every check evaluated."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.definitions import build_definitions
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.settings import load_settings

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("spark")]


def _run(home, job_name: str, overrides: dict | None = None) -> dg.ExecuteInProcessResult:
    defs = build_definitions(load_settings({"AIRBYTE_PLATFORM_HOME": str(home)}))
    if overrides:
        airbyte = defs.resources["airbyte"]
        assert isinstance(airbyte, EmbeddedAirbyteResource)
        patched = airbyte.model_copy(update={"source_config_overrides": overrides})
        defs = dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            jobs=defs.jobs,
            schedules=defs.schedules,
            sensors=defs.sensors,
            resources={**(defs.resources or {}), "airbyte": patched},
        )
    job = defs.resolve_job_def(job_name)
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _row_counts(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    counts = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        assert materialization is not None
        entry = materialization.metadata.get("dagster/row_count")
        counts[materialization.asset_key.to_user_string()] = int(entry.value) if entry is not None else -1
    return counts


def test_stripe_datalake_pipeline_end_to_end(tmp_path):
    result = _run(tmp_path, "stripe_datalake_pipeline")
    assert result.success
    counts = _row_counts(result)
    for stream in ("customers", "charges", "invoices", "subscriptions"):
        assert counts[f"lake/stripe/{stream}"] >= 100
    assert counts["processed/stripe"] > 0
    assert counts["snowflake/stripe_revenue"] > 0
    charges = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.to_user_string() == "lake/stripe/charges"
    )
    # What the UI plots per sync: counts, sizes and where the time went.
    assert charges["records_synced"].value == counts["lake/stripe/charges"]
    assert charges["bytes_synced"].value > 0
    phases = [charges[f"{phase}_seconds"].value for phase in ("prepare", "read", "publish")]
    assert all(seconds >= 0 for seconds in phases)
    assert sum(phases) <= charges["duration_seconds"].value + 0.01
    evaluations = result.get_asset_check_evaluations()
    assert evaluations, "checks ran"
    failed = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations if not e.passed]
    assert failed == []
    assert {e.check_name for e in evaluations} >= {"min_records", "gx_suite"}


def test_too_few_records_fails_the_check_and_stops_downstream(tmp_path):
    result = _run(tmp_path, "stripe_datalake_pipeline", overrides={"stripe_to_s3": {"records": 20}})
    assert not result.success
    failed = {
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    assert ("lake/stripe/charges", "min_records") in failed
    materialized = set(_row_counts(result))
    assert "processed/stripe" not in materialized
    assert "snowflake/stripe_revenue" not in materialized
