"""The Airflow DAG ids are the contract: every one is a job, and every task id maps to something real."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.airflow_compat.dags import DAG_IDS, DAGS, dag_named
from airbyte_platform.definitions import build_definitions
from airbyte_platform.settings import load_settings

DOCUMENTED_DAG_IDS = {
    "airbyte_stripe_to_postgres",
    "airbyte_multi_source_sync",
    "airbyte_event_driven_sync",
    "stripe_datalake_pipeline",
    "multi_source_analytics",
    "postgres_cdc_replication",
    "stripe_etl_validated",
    "event_driven_sync",
    "resilient_sync",
    "parallel_syncs",
}


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    return build_definitions(load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path_factory.mktemp("home"))}))


def test_every_documented_dag_id_is_a_job(defs):
    assert set(DAG_IDS) == DOCUMENTED_DAG_IDS
    for dag_id in DOCUMENTED_DAG_IDS:
        assert defs.resolve_job_def(dag_id).name == dag_id


def test_every_task_maps_to_existing_assets_or_checks(defs):
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    check_names = {key.name for key in graph.asset_check_keys}
    for dag in DAGS:
        for task_id, task in dag.tasks.items():
            assert task.assets or task.check_names or task.note, f"{dag.dag_id}.{task_id} maps to nothing"
            missing = [k.to_user_string() for k in task.assets if k not in keys]
            assert not missing, f"{dag.dag_id}.{task_id}: unknown assets {missing}"
            assert set(task.check_names) <= check_names, f"{dag.dag_id}.{task_id}: unknown checks"


def test_six_hourly_dags_keep_their_schedule(defs):
    schedules = {s.job_name: s for s in defs.get_repository_def().schedule_defs}
    for dag_id in ("airbyte_stripe_to_postgres", "stripe_datalake_pipeline"):
        assert schedules[dag_id].cron_schedule == "0 */6 * * *"


def test_stripe_datalake_pipeline_runs_sync_then_databricks_then_snowflake(defs):
    job = defs.resolve_job_def("stripe_datalake_pipeline")
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"lake/stripe/charges", "processed/stripe", "snowflake/stripe_revenue"} <= selected
    assert not any(key.startswith("postgres/") for key in selected)


def test_resilient_sync_retries_three_times_ten_minutes_apart(defs):
    job = defs.resolve_job_def("resilient_sync")
    primary = job.graph.node_named("primary_sync").definition
    fields = primary.config_schema.as_field().config_type.fields
    # As retries=3, retry_delay=timedelta(minutes=10) in the seeds: a fixed delay, no backoff.
    assert fields["max_retries"].default_value == 3
    assert fields["retry_delay_seconds"].default_value == 600
    assert dag_named("resilient_sync").retry_policy == dg.RetryPolicy(max_retries=3, delay=600)


def test_resilient_sync_has_the_seeds_tasks_and_trigger_rules(defs):
    job = defs.resolve_job_def("resilient_sync")
    assert sorted(node.name for node in job.graph.nodes) == sorted(dag_named("resilient_sync").tasks)
    # fallback_sync reads primary_sync's optional `failed` output (runs only after a failure);
    # validate_sync fans in both optional `synced` outputs (runs when one produced the data).
    fallback_inputs = job.graph.dependency_structure.input_to_upstream_outputs_for_node("fallback_sync")
    assert [(o.node.name, o.output_def.name) for outs in fallback_inputs.values() for o in outs] == [
        ("primary_sync", "failed")
    ]
    validate_inputs = job.graph.dependency_structure.input_to_upstream_outputs_for_node("validate_sync")
    assert sorted((o.node.name, o.output_def.name) for outs in validate_inputs.values() for o in outs) == [
        ("fallback_sync", "synced"),
        ("primary_sync", "synced"),
    ]
    assert not job.graph.node_named("primary_sync").definition.output_def_named("synced").is_required
