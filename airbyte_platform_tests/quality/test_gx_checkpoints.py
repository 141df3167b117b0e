"""GX checkpoints by name behind the `gx_suite` checks: the bundled `stripe_post_sync_checkpoint` on real
lake data synced by the embedded runner, and a GX project written to disk by GX's own API
(GX_CONTEXT_ROOT_DIR) whose checkpoint replaces it, fails with the rows it rejected, or is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import great_expectations as gx
import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.lake import read_lake_table
from airbyte_platform.core.specs import destination_location
from airbyte_platform.quality.gx_checkpoints import (
    CONTEXTS,
    GxCheckpointNotFoundError,
    checkpoint_name,
    run_connection_checkpoint,
)
from airbyte_platform.quality.gx_suites import build_gx_checks_for
from airbyte_platform_tests.ingestion.conftest import make_runner

STRIPE_LAKE = connection_named("stripe_to_s3")
STRIPE_PG = connection_named("stripe_to_postgres")


@pytest.fixture(scope="module")
def stripe_lake(tmp_path_factory: pytest.TempPathFactory) -> DestinationsResource:
    """The Stripe streams synced into a lake by the embedded runner and the sample Stripe connector."""
    home = tmp_path_factory.mktemp("gx_home")
    runner = make_runner(home, str(home / "lake"), None)
    runner.sync(STRIPE_LAKE, config={"records": 300})
    return DestinationsResource(lake_root=str(home / "lake"), home=str(home))


def _evaluate(
    checks: dg.AssetChecksDefinition, destinations: DestinationsResource, *, blocked: bool = False
) -> dict[str, dg.AssetCheckEvaluation]:
    """Run the op as a job does; `blocked`: a blocking check is expected to fail the step."""
    defs = dg.Definitions(
        asset_checks=[checks],
        jobs=[dg.define_asset_job("gx", selection=dg.AssetSelection.checks(checks))],
        resources={"destinations": destinations},
    )
    result = defs.resolve_job_def("gx").execute_in_process(raise_on_error=False)
    assert result.success is not blocked, [e.message for e in result.all_events if e.is_failure]
    return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}


def test_the_seeds_checkpoint_names_belong_to_the_stripe_connections():
    assert checkpoint_name(STRIPE_LAKE) == "stripe_post_sync_checkpoint"
    assert checkpoint_name(STRIPE_PG) == "stripe_postgres_checkpoint"
    assert checkpoint_name(connection_named("hubspot_to_postgres")) == "hubspot_to_postgres_checkpoint"


def test_bundled_checkpoint_runs_by_name_on_the_synced_lake(stripe_lake):
    checks = build_gx_checks_for(STRIPE_LAKE)
    assert checks is not None
    evaluations = _evaluate(checks, stripe_lake)
    assert set(evaluations) == {stream.name for stream in STRIPE_LAKE.streams}
    for stream, evaluation in evaluations.items():
        metadata = evaluation.metadata
        assert evaluation.passed, (stream, evaluation.description)
        assert metadata["checkpoint"].value == "stripe_post_sync_checkpoint"
        assert metadata["gx_project"].value == "bundled"
        expectations = metadata["expectations"].value
        assert len(expectations) == metadata["evaluated_expectations"].value > 0
        assert all(e["success"] for e in expectations)
        assert metadata["failing_rows"].value == []
    # The columns expectation reports what it observed: the synced table's real columns.
    charges = evaluations["charges"].metadata["expectations"].value
    observed = next(e for e in charges if e["type"] == "expect_table_columns_to_match_set")["observed_value"]
    location = destination_location(STRIPE_LAKE, STRIPE_LAKE.streams[1], stripe_lake.lake_root)
    assert set(observed) == set(read_lake_table(location).column_names)
    # A real GX checkpoint: the process's bundled context holds it by name, one validation per stream.
    context = CONTEXTS.bundled(stripe_lake, STRIPE_LAKE)
    checkpoint = context.checkpoints.get("stripe_post_sync_checkpoint")
    assert isinstance(checkpoint, gx.Checkpoint)
    assert len(checkpoint.validation_definitions) == len(STRIPE_LAKE.streams)


def _write_project(root: Path, lake_root: str, checkpoints: dict[str, list[Any]]) -> None:
    """A GX project on disk, written by GX's own API: the lake data source and named checkpoints."""
    import airbyte_platform.quality.gx_lake_datasource  # noqa: F401  the airbyte_lake type

    context = gx.get_context(mode="file", project_root_dir=str(root))
    source = context.data_sources.add_airbyte_lake("stripe_lake", lake_root=lake_root)
    for name, expectations in checkpoints.items():
        asset = source.add_lake_table_asset("charges", location="airbyte/stripe/charges")
        batch = asset.add_batch_definition_whole_dataframe("all rows")
        suite = context.suites.add(gx.ExpectationSuite(name="team_charges", expectations=expectations))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name="team_charges", data=batch, suite=suite)
        )
        context.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[validation],
                result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["id"]},
            )
        )


def test_a_gx_project_on_disk_replaces_the_bundled_checkpoint_and_names_failing_rows(stripe_lake, tmp_path):
    project = tmp_path / "airflow_gx"
    _write_project(
        project,
        stripe_lake.lake_root,
        {
            "stripe_post_sync_checkpoint": [
                gx.expectations.ExpectColumnValuesToNotBeNull(column="id"),
                gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=["succeeded"]),
            ]
        },
    )
    assert (project / "gx" / "great_expectations.yml").is_file()
    checks = build_gx_checks_for(STRIPE_LAKE, gx_project=project)
    assert checks is not None
    evaluations = _evaluate(checks, stripe_lake, blocked=True)

    charges = evaluations["charges"]
    assert not charges.passed
    assert charges.metadata["checkpoint"].value == "stripe_post_sync_checkpoint"
    assert charges.metadata["gx_project"].value == str(project)
    assert charges.metadata["suites"].value == ["team_charges"]
    by_type = {e["type"]: e for e in charges.metadata["expectations"].value}
    assert by_type["expect_column_values_to_not_be_null"]["success"] is True
    in_set = by_type["expect_column_values_to_be_in_set"]
    assert in_set["success"] is False and in_set["column"] == "status"

    # The failing rows are the charges whose status is not `succeeded`, named by id (a bounded sample).
    table = read_lake_table(destination_location(STRIPE_LAKE, STRIPE_LAKE.streams[1], stripe_lake.lake_root))
    bad = {
        i: s
        for i, s in zip(table.column("id").to_pylist(), table.column("status").to_pylist(), strict=True)
        if s != "succeeded"
    }
    assert bad, "the sample source emits failed and pending charges"
    assert in_set["unexpected_count"] == len(bad)
    [rows] = charges.metadata["failing_rows"].value
    assert rows["column"] == "status" and 0 < len(rows["unexpected_rows"]) <= 20
    for row in rows["unexpected_rows"]:
        assert bad[row["id"]] == row["status"]
    assert set(rows["unexpected_values"]) <= set(bad.values())
    assert "expect_column_values_to_be_in_set(status)" in (charges.description or "")

    # Streams the team's checkpoint does not validate are reported, not passed.
    customers = evaluations["customers"]
    assert not customers.passed and customers.severity == dg.AssetCheckSeverity.WARN
    assert "validates no data asset named 'customers'" in (customers.description or "")


def test_a_checkpoint_missing_from_the_project_is_an_error_naming_it_and_the_folder(stripe_lake, tmp_path):
    project = tmp_path / "only_lake"
    _write_project(
        project,
        stripe_lake.lake_root,
        {"stripe_post_sync_checkpoint": [gx.expectations.ExpectColumnValuesToNotBeNull(column="id")]},
    )
    with pytest.raises(GxCheckpointNotFoundError) as raised:
        run_connection_checkpoint(STRIPE_PG, {}, stripe_lake, project)
    message = str(raised.value)
    assert "'stripe_postgres_checkpoint'" in message and str(project) in message
    assert "stripe_post_sync_checkpoint" in message  # what the project does have
    # Through the op, as a run shows it: the step fails with that message.
    checks = build_gx_checks_for(STRIPE_PG, gx_project=project)
    defs = dg.Definitions(
        asset_checks=[checks],
        jobs=[dg.define_asset_job("gx", selection=dg.AssetSelection.checks(checks))],
        resources={"destinations": stripe_lake},
    )
    result = defs.resolve_job_def("gx").execute_in_process(raise_on_error=False)
    [failure] = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert error is not None and "GxCheckpointNotFoundError" in error.to_string()
    assert "'stripe_postgres_checkpoint'" in error.to_string() and str(project) in error.to_string()


RUN_CHECKS_IN_A_NEW_PROCESS = """
import json
import dagster as dg
from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.local_defs import build_destinations_resource
from airbyte_platform.quality.gx_suites import build_gx_checks_for
from airbyte_platform.settings import get_settings

settings = get_settings()
checks = build_gx_checks_for(connection_named("stripe_to_s3"), gx_project=settings.gx_context_root_dir)
defs = dg.Definitions(
    asset_checks=[checks],
    jobs=[dg.define_asset_job("gx", selection=dg.AssetSelection.checks(checks))],
    resources={"destinations": build_destinations_resource(settings)},
)
result = defs.resolve_job_def("gx").execute_in_process(raise_on_error=False)
print(json.dumps({e.asset_key.path[-1]: [e.passed, e.metadata["checkpoint"].value, e.metadata["gx_project"].value]
                  for e in result.get_asset_check_evaluations()}))
"""


def test_a_project_using_the_lake_type_and_datalake_root_runs_in_a_fresh_process(
    stripe_lake, tmp_path, monkeypatch
):
    """What a run worker does: settings from the environment (GX_CONTEXT_ROOT_DIR, DATALAKE_ROOT), the
    project's `airbyte_lake` data source read back from its YAML with `${DATALAKE_ROOT}` resolved."""
    project = tmp_path / "opt_airflow_gx"
    monkeypatch.setenv("DATALAKE_ROOT", stripe_lake.lake_root)  # GX resolves it while writing the project
    _write_project(
        project,
        "${DATALAKE_ROOT}",
        {"stripe_post_sync_checkpoint": [gx.expectations.ExpectColumnValuesToNotBeNull(column="id")]},
    )
    assert "${DATALAKE_ROOT}" in (project / "gx" / "great_expectations.yml").read_text()
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
        "DATALAKE_ROOT": stripe_lake.lake_root,
        "AIRFLOW_VAR_GX_CONTEXT_ROOT_DIR": str(project),
    }
    completed = subprocess.run(
        [sys.executable, "-c", RUN_CHECKS_IN_A_NEW_PROCESS],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results["charges"] == [True, "stripe_post_sync_checkpoint", str(project)]
    assert results["customers"][0] is False  # not in the team's checkpoint: a warning, not a pass


def test_a_project_checkpoint_on_postgres_tables_is_never_reported_on_the_lakes_streams(
    stripe_lake, pg, postgres_dsn, tmp_path
):
    """The seeds' stripe_etl_validated ran stripe_post_sync_checkpoint on Stripe in PostgreSQL: a
    project keeping that checkpoint must not pass or fail the lake's `charges` with PostgreSQL's rows."""
    pg.execute("CREATE SCHEMA IF NOT EXISTS stripe_raw")
    pg.execute("DROP TABLE IF EXISTS stripe_raw.charges")
    pg.execute("CREATE TABLE stripe_raw.charges (id text, status text)")
    pg.execute("INSERT INTO stripe_raw.charges VALUES ('ch_1', 'succeeded'), ('ch_2', 'lost')")
    destinations = DestinationsResource(
        lake_root=stripe_lake.lake_root, home=stripe_lake.home, postgres_dsn=postgres_dsn
    )
    project = tmp_path / "seeds_gx"
    context = gx.get_context(mode="file", project_root_dir=str(project))
    # GX's `postgres` type insists on a host; pgserver listens on a Unix socket, so the generic `sql` type.
    source = context.data_sources.add_sql(
        "analytics", connection_string=destinations.postgres_sqlalchemy_url()
    )
    batch = source.add_table_asset(
        "charges", table_name="charges", schema_name="stripe_raw"
    ).add_batch_definition_whole_table("all")
    suite = context.suites.add(
        gx.ExpectationSuite(
            name="charges_status",
            expectations=[
                gx.expectations.ExpectColumnValuesToBeInSet(column="status", value_set=["succeeded"])
            ],
        )
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name="charges", data=batch, suite=suite)
    )
    for name in ("stripe_post_sync_checkpoint", "stripe_postgres_checkpoint"):
        context.checkpoints.add(gx.Checkpoint(name=name, validation_definitions=[validation]))

    lake = _evaluate(build_gx_checks_for(STRIPE_LAKE, gx_project=project), destinations)
    assert not lake["charges"].passed and lake["charges"].severity == dg.AssetCheckSeverity.WARN
    assert "it validates: analytics/charges" in (lake["charges"].description or "")

    postgres = _evaluate(build_gx_checks_for(STRIPE_PG, gx_project=project), destinations, blocked=True)
    charges = postgres["charges"]
    assert not charges.passed and charges.severity == dg.AssetCheckSeverity.ERROR
    assert charges.metadata["checkpoint"].value == "stripe_postgres_checkpoint"
    [rows] = charges.metadata["failing_rows"].value
    assert rows["unexpected_values"] == ["lost"]
