"""`resilient_sync` as the seeds wrote it, against the loopback Airbyte server failing on purpose and the
embedded runner writing into a real PostgreSQL: the fallback runs only after the primary's retries are
spent, through a real alternative, and validate_sync runs when none failed and one succeeded.

The 10-minute delay between attempts is primary_sync's op config (default 600 s): the tests launch
with a 0.01 s delay in the run config, as a caller may, rather than patching anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from airbyte_platform.airflow_compat.dags import dag_named
from airbyte_platform.airflow_compat.fallback import FALLBACK, PATH_BACKUP, PATH_EMBEDDED
from airbyte_platform.airflow_compat.resilient import (
    PATH_KEY,
    PATH_PRIMARY,
    PRIMARY,
    VALIDATE,
    build_resilient_sync_job,
    validated_checks,
)
from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.definitions import build_definitions
from airbyte_platform.ingestion.airbyte_server.defs import build_workspace
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.airbyte_server.conftest import FAST, airbyte_sync_mode, declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import FakeAirbyteState, JobPlan, StreamConf
from airbyte_platform_tests.ports import free_port
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

STRIPE_PG = connection_named("stripe_to_postgres")
STRIPE_PG_ID = declared_id(STRIPE_PG)
FAST_RETRIES = {"ops": {PRIMARY: {"config": {"retry_delay_seconds": 0.01}}}}
SMALL_STRIPE = json.dumps({"records": 150, "seed": 7})


def add_backup_connection(state: FakeAirbyteState) -> str:
    """A second connection with the same streams into the same PostgreSQL destination."""
    [workspace] = state.workspaces
    [postgres] = [
        d["destinationId"] for d in state.destinations.values() if d["name"] == "Analytics PostgreSQL"
    ]
    return state.add_connection(
        workspace,
        "Stripe → PostgreSQL (backup)",
        [
            StreamConf(
                s.name,
                sync_mode=airbyte_sync_mode(s.sync_mode),
                cursor_field=(s.cursor_field,) if s.cursor_field else (),
                primary_key=tuple((k,) for k in s.primary_key),
            )
            for s in STRIPE_PG.streams
        ],
        destination_id=postgres,
    )


def run(
    env: dict[str, str],
    tmp_path: Path,
    postgres_dsn: str,
    run_config: dict[str, Any] = FAST_RETRIES,
    **airbyte: Any,
) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    settings = load_settings(env)
    destinations = DestinationsResource(
        lake_root=str(tmp_path / "lake"), home=str(tmp_path), postgres_dsn=postgres_dsn
    )
    if settings.is_local:
        resource: Any = EmbeddedAirbyteResource(
            destinations=destinations, connectors_dir=str(tmp_path / "connectors"), **airbyte
        )
    else:
        resource = build_workspace(settings, **FAST)
    instance = dg.DagsterInstance.ephemeral()
    result = build_resilient_sync_job(settings, dag_named("resilient_sync")).execute_in_process(
        run_config=run_config,
        resources={"airbyte": resource, "destinations": destinations},
        instance=instance,
        raise_on_error=False,
    )
    return result, instance


def steps(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type == event_type and e.step_key}


def produced_by(result: dg.ExecuteInProcessResult) -> dict[str, set[str]]:
    """Step -> the `resilient_sync/path` of the materializations it reported."""
    paths: dict[str, set[str]] = {}
    for event in result.get_asset_materialization_events():
        assert event.step_key is not None
        paths.setdefault(event.step_key, set()).add(event.materialization.metadata[PATH_KEY].value)
    return paths


def evaluated_checks(result: dg.ExecuteInProcessResult) -> dict[dg.AssetCheckKey, bool]:
    return {
        e.asset_check_evaluation_data.asset_check_key: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }


def path_tag(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str | None:
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run.tags.get(PATH_KEY)


def test_primary_succeeds_fallback_is_skipped_and_validate_runs(
    prod_env, tmp_path, postgres_dsn, airbyte_state
):
    result, instance = run(prod_env, tmp_path, postgres_dsn)

    assert result.success
    assert steps(result, dg.DagsterEventType.STEP_SKIPPED) == {FALLBACK}
    assert steps(result, dg.DagsterEventType.STEP_SUCCESS) == {PRIMARY, VALIDATE}
    assert produced_by(result) == {PRIMARY: {PATH_PRIMARY}}
    assert evaluated_checks(result) == dict.fromkeys(validated_checks(), True)
    assert path_tag(instance, result) == PATH_PRIMARY
    assert len(airbyte_state.jobs_of(STRIPE_PG_ID)) == 1


def test_primary_fails_after_three_retries_and_the_backup_connection_produces_the_data(
    prod_env, tmp_path, postgres_dsn, airbyte_state
):
    backup_id = add_backup_connection(airbyte_state)
    airbyte_state.set_plan(STRIPE_PG_ID, JobPlan(duration_seconds=0.1, outcome="failed"))
    env = {**prod_env, "AIRFLOW_VAR_AIRBYTE_STRIPE_BACKUP_CONNECTION_ID": backup_id}  # Airflow's form works

    result, instance = run(env, tmp_path, postgres_dsn)

    assert result.success  # the fallback produced the data: the DAG run succeeds, as in Airflow
    assert len(airbyte_state.jobs_of(STRIPE_PG_ID)) == 4  # the first attempt and 3 retries
    assert [j.plan.outcome for j in airbyte_state.jobs_of(backup_id)] == ["succeeded"]
    assert steps(result, dg.DagsterEventType.STEP_SUCCESS) == {PRIMARY, FALLBACK, VALIDATE}
    assert produced_by(result) == {FALLBACK: {PATH_BACKUP}}  # nothing reported for the failed primary
    assert evaluated_checks(result) == dict.fromkeys(validated_checks(), True)
    assert path_tag(instance, result) == PATH_BACKUP
    materialized = {
        e.materialization.metadata["airbyte/connection_id"].value
        for e in result.get_asset_materialization_events()
    }
    assert materialized == {backup_id}
    [failed] = [
        o
        for o in result.all_events
        if o.event_type == dg.DagsterEventType.STEP_OUTPUT and o.step_key == PRIMARY
    ]
    assert failed.step_output_data.output_name == "failed"


def test_both_fail_the_run_fails_and_validate_does_not_run(prod_env, tmp_path, postgres_dsn, airbyte_state):
    backup_id = add_backup_connection(airbyte_state)
    for connection_id in (STRIPE_PG_ID, backup_id):
        airbyte_state.set_plan(connection_id, JobPlan(duration_seconds=0.1, outcome="failed"))

    result, instance = run(
        {**prod_env, "AIRBYTE_STRIPE_BACKUP_CONNECTION_ID": backup_id}, tmp_path, postgres_dsn
    )

    assert not result.success
    assert steps(result, dg.DagsterEventType.STEP_FAILURE) == {FALLBACK}
    assert VALIDATE not in steps(result, dg.DagsterEventType.STEP_START)
    assert not evaluated_checks(result) and not result.get_asset_materialization_events()
    assert path_tag(instance, result) is None
    assert len(airbyte_state.jobs_of(backup_id)) == 1


def test_a_reachable_server_without_a_backup_fails_saying_what_to_set(
    prod_env, tmp_path, postgres_dsn, airbyte_state
):
    airbyte_state.set_plan(STRIPE_PG_ID, JobPlan(duration_seconds=0.1, outcome="failed"))
    result, _ = run(prod_env, tmp_path, postgres_dsn)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == FALLBACK
    assert "AIRBYTE_STRIPE_BACKUP_CONNECTION_ID" in failure.step_failure_data.error.message


def test_server_unreachable_the_embedded_runner_syncs_the_connector_into_the_same_destination(
    tmp_path, postgres_dsn, pg, monkeypatch
):
    env = {
        **PROD_PLACEHOLDERS,
        "AIRBYTE_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
        "AIRBYTE_CONNECTORS_DIR": str(tmp_path / "connectors"),
        "AIRBYTE_STRIPE_FALLBACK_CONNECTOR": "sample:stripe",
        "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG": SMALL_STRIPE,
    }
    for name in ("AIRBYTE_API_USERNAME", "AIRBYTE_API_PASSWORD", "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG"):
        monkeypatch.setenv(name, env[name])  # secrets are read through dg.EnvVar
    pg.execute("DROP SCHEMA IF EXISTS stripe_raw CASCADE")

    result, instance = run(env, tmp_path, postgres_dsn)

    assert result.success
    assert produced_by(result) == {FALLBACK: {PATH_EMBEDDED}}
    assert path_tag(instance, result) == PATH_EMBEDDED
    assert evaluated_checks(result) == dict.fromkeys(validated_checks(), True)
    rows = {
        e.asset_key: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }
    for stream in STRIPE_PG.streams:  # the declared destination table, where Airbyte writes
        table = f"stripe_raw.{stream.table_name}"
        assert (
            pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows[STRIPE_PG.asset_key(stream)] > 0
        )
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 3


def test_locally_the_primary_is_the_embedded_runner_and_a_fallback_connector_can_take_over(
    tmp_path, postgres_dsn, monkeypatch
):
    local = {"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")}
    result, instance = run(
        local, tmp_path, postgres_dsn, source_config_overrides={"stripe_to_postgres": {"records": 150}}
    )
    assert result.success and produced_by(result) == {PRIMARY: {PATH_PRIMARY}}
    assert steps(result, dg.DagsterEventType.STEP_SKIPPED) == {FALLBACK}

    # The primary's connector fails on purpose (a config its spec rejects); no alternative set.
    broken = {"stripe_to_postgres": {"records": -1}}  # rejected by the source's spec
    no_alternative, _ = run(
        local,
        tmp_path,
        postgres_dsn,
        {"ops": {PRIMARY: {"config": {"retry_delay_seconds": 0.0, "max_retries": 1}}}},
        source_config_overrides=broken,
    )
    assert not no_alternative.success
    [failure] = [e for e in no_alternative.all_events if e.is_step_failure]
    assert "AIRBYTE_STRIPE_FALLBACK_CONNECTOR" in failure.step_failure_data.error.message

    monkeypatch.setenv("AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG", SMALL_STRIPE)
    fallback_env = {
        **local,
        "AIRBYTE_STRIPE_FALLBACK_CONNECTOR": "sample:stripe",
        "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG": SMALL_STRIPE,
    }
    rescued, instance = run(
        fallback_env,
        tmp_path,
        postgres_dsn,
        {"ops": {PRIMARY: {"config": {"retry_delay_seconds": 0.0, "max_retries": 1}}}},
        source_config_overrides=broken,
    )
    assert rescued.success and produced_by(rescued) == {FALLBACK: {PATH_EMBEDDED}}
    assert path_tag(instance, rescued) == PATH_EMBEDDED


def test_the_code_location_wires_resilient_sync_in_both_modes(prod_settings, tmp_path):
    for settings in (load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")}), prod_settings):
        job = build_definitions(settings).resolve_job_def("resilient_sync")
        assert [node.name for node in job.graph.node_defs] == [PRIMARY, FALLBACK, VALIDATE]
        assert job.tags["airflow/dag_id"] == "resilient_sync" and job.tags["airbyte/sync"] == "true"


@pytest.mark.parametrize("value", ["not json", "[1, 2]"])
def test_a_malformed_fallback_config_fails_without_showing_the_secret(
    value, tmp_path, postgres_dsn, monkeypatch
):
    monkeypatch.setenv("AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG", value)
    env = {
        "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
        "AIRBYTE_STRIPE_FALLBACK_CONNECTOR": "sample:stripe",
        "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG": value,
    }
    result, _ = run(
        env,
        tmp_path,
        postgres_dsn,
        {"ops": {PRIMARY: {"config": {"retry_delay_seconds": 0.0, "max_retries": 0}}}},
        source_config_overrides={"stripe_to_postgres": {"records": -1}},
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG" in message and value not in message


def test_too_few_records_fail_validate_sync_and_the_run(prod_env, tmp_path, postgres_dsn, airbyte_state):
    airbyte_state.set_plan(STRIPE_PG_ID, JobPlan(duration_seconds=0.1, rows_per_stream=10))

    result, instance = run(prod_env, tmp_path, postgres_dsn)

    assert not result.success
    assert steps(result, dg.DagsterEventType.STEP_FAILURE) == {VALIDATE}
    assert evaluated_checks(result) == dict.fromkeys(validated_checks(), False)  # recorded before failing
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "min_records failed on postgres/stripe/" in failure.step_failure_data.error.message
    assert path_tag(instance, result) == PATH_PRIMARY
