"""A run pod builds the discovered connections its run selects, and only while reconstructing for that
run; code servers and runs that select no assets explicitly build every connection."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.definitions.repository_definition import RepositoryLoadData
from dagster._core.execution.api import create_execution_plan
from dagster._core.utils import make_new_run_id

from airbyte_platform.ingestion.airbyte_server import workspace_state
from airbyte_platform.ingestion.airbyte_server.defs import (
    build_prod_ingestion_defs,
    build_prod_ingestion_resources,
)
from airbyte_platform.ingestion.airbyte_server.reset import RESET_JOB_NAME, RESET_OP_NAME
from airbyte_platform.ingestion.airbyte_server.run_scope import discovered_key_part, scope_of_run
from airbyte_platform.settings import Settings, load_settings
from airbyte_platform_tests.airbyte_server.test_defs import DECLARED_KEYS


def keys_of(defs: dg.Definitions) -> set[dg.AssetKey]:
    return {key for assets in defs.assets or () for key in assets.keys}  # type: ignore[union-attr]


def add_run(
    instance: dg.DagsterInstance,
    asset_selection: frozenset[dg.AssetKey] | None,
    checks: frozenset[dg.AssetCheckKey] | None = None,
) -> dg.DagsterRun:
    run = dg.DagsterRun(
        job_name="__ASSET_JOB",
        run_id=make_new_run_id(),
        asset_selection=asset_selection,
        asset_check_selection=checks,
    )
    return instance.add_run(run)


def load_in_run_pod(settings: Settings, pinned: RepositoryLoadData | None) -> dg.Definitions:
    """As `dagster api execute_run` loads the code location: a reconstruction, in a process whose only
    instance is DAGSTER_HOME's."""
    workspace_state._home_instance.clear()
    context = DefinitionsLoadContext(
        load_type=DefinitionsLoadType.RECONSTRUCTION, repository_load_data=pinned
    )
    with DefinitionsLoadContext.scoped(context):
        return build_prod_ingestion_defs(settings)


@pytest.fixture
def code_server(prod_settings, dagster_instance) -> tuple[dg.Definitions, RepositoryLoadData]:
    context = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)
    with DefinitionsLoadContext.scoped(context):
        defs = build_prod_ingestion_defs(prod_settings)
    return defs, RepositoryLoadData(defs_state_info=context.accessed_defs_state_info)


def by_connection(keys: set[dg.AssetKey]) -> dict[str, set[dg.AssetKey]]:
    grouped: dict[str, set[dg.AssetKey]] = {}
    for key in keys:
        grouped.setdefault(key.path[1], set()).add(key)
    return grouped


def test_the_scope_is_the_connections_of_the_selected_assets_and_checks() -> None:
    run = dg.DagsterRun(
        job_name="__ASSET_JOB",
        asset_selection=frozenset(
            {dg.AssetKey(["airbyte", "crm", "deals"]), dg.AssetKey(["stripe", "charges"])}
        ),
        asset_check_selection=frozenset(
            {dg.AssetCheckKey(dg.AssetKey(["airbyte", "erp", "orders"]), "min_records")}
        ),
    )
    scope = scope_of_run(run)
    assert scope.key_parts == {"crm", "erp"}
    assert scope.includes("crm") and not scope.includes("billing")
    whole_job = scope_of_run(dg.DagsterRun(job_name="airbyte_reset_connections"))
    assert whole_job.everything and whole_job.includes("billing")
    assert discovered_key_part(dg.AssetKey(["airbyte", "crm"])) is None  # not a stream's key


def test_a_run_pod_builds_only_its_runs_connections_and_the_declared_ones(
    prod_settings, dagster_instance, code_server, airbyte_server
):
    defs, pinned = code_server
    connections = by_connection({key for key in keys_of(defs) if key.path[0] == "airbyte"})
    assert len(connections) >= 3
    part, selected = sorted(connections.items())[0]
    check_part, check_keys = sorted(connections.items())[1]
    run = add_run(
        dagster_instance,
        frozenset(selected),
        frozenset({dg.AssetCheckKey(next(iter(check_keys)), "min_records")}),
    )
    airbyte_server.reset_counts()

    rebuilt = load_in_run_pod(dataclasses.replace(prod_settings, run_id=run.run_id), pinned)

    assert keys_of(rebuilt) == DECLARED_KEYS | selected | check_keys
    assert airbyte_server.total_requests == 0
    (said,) = [
        e.message
        for e in dagster_instance.all_logs(run.run_id)
        if e.message and "Airbyte connections discovered" in e.message
    ]
    assert f"built the assets of 2 of the {len(connections)} Airbyte connections" in said
    # the step's job resolves against the rebuilt definitions, as the run worker's plan does
    resources = dg.Definitions(resources=build_prod_ingestion_resources(prod_settings))
    job = dg.Definitions.merge(rebuilt, resources).resolve_implicit_global_asset_job_def()
    assert job.get_subset(asset_selection=selected).asset_layer.selected_asset_keys == selected
    assert part != check_part


def test_a_run_without_an_explicit_selection_builds_everything(prod_settings, dagster_instance, code_server):
    defs, pinned = code_server
    run = add_run(dagster_instance, None)
    rebuilt = load_in_run_pod(dataclasses.replace(prod_settings, run_id=run.run_id), pinned)
    assert keys_of(rebuilt) == keys_of(defs)
    assert not [e for e in dagster_instance.all_logs(run.run_id) if "discovered" in (e.message or "")]


def test_a_code_server_with_the_variable_set_still_builds_everything(prod_env, dagster_instance, code_server):
    """Only reconstructions are narrowed: a code server must show the whole workspace even if the
    variable leaked into its environment."""
    defs, _ = code_server
    run = add_run(dagster_instance, frozenset())
    settings = load_settings({**prod_env, "AIRBYTE_PLATFORM_RUN_ID": run.run_id})
    assert settings.run_id == run.run_id
    with DefinitionsLoadContext.scoped(DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)):
        again = build_prod_ingestion_defs(settings)
    assert keys_of(again) == keys_of(defs)


def test_an_unknown_run_builds_everything_and_says_so(
    prod_settings, dagster_instance, code_server, caplog: pytest.LogCaptureFixture
):
    defs, pinned = code_server
    rebuilt = load_in_run_pod(dataclasses.replace(prod_settings, run_id="0" * 36), pinned)
    assert keys_of(rebuilt) == keys_of(defs)
    assert "AIRBYTE_PLATFORM_RUN_ID=" + "0" * 36 in caplog.text
    assert "building every discovered connection" in caplog.text


def test_an_empty_variable_is_no_run() -> None:
    assert load_settings({"AIRBYTE_PLATFORM_RUN_ID": ""}).run_id is None


def run_of_job(
    instance: dg.DagsterInstance, defs: dg.Definitions, job_name: str, run_config: dict | None = None
) -> dg.DagsterRun:
    """A run of a whole job, as a schedule creates it: no asset selection, its plan stored with it."""
    job = defs.resolve_job_def(job_name)
    plan = create_execution_plan(job, run_config=run_config)
    return instance.create_run_for_job(job_def=job, execution_plan=plan, run_config=run_config)


def test_a_scheduled_asset_job_is_narrowed_by_the_plan_stored_with_its_run(
    prod_settings, dagster_instance, code_server
):
    defs, pinned = code_server
    connections = by_connection({key for key in keys_of(defs) if key.path[0] == "airbyte"})
    _, selected = sorted(connections.items())[2]
    declared = sorted(DECLARED_KEYS)[:1]
    one_job = dg.define_asset_job("one_connection", selection=dg.AssetSelection.assets(*selected, *declared))
    resources = dg.Definitions(resources=build_prod_ingestion_resources(prod_settings), jobs=[one_job])
    run = run_of_job(dagster_instance, dg.Definitions.merge(defs, resources), "one_connection")
    assert run.asset_selection is None and run.execution_plan_snapshot_id

    rebuilt = load_in_run_pod(dataclasses.replace(prod_settings, run_id=run.run_id), pinned)

    assert keys_of(rebuilt) == DECLARED_KEYS | selected


def test_an_op_job_builds_everything(prod_settings, dagster_instance, code_server):
    """The reset job's op takes its connection from run config: it may be any connection."""
    defs, pinned = code_server
    resources = dg.Definitions(resources=build_prod_ingestion_resources(prod_settings))
    config = {"ops": {RESET_OP_NAME: {"config": {"connection": "zendesk_snowflake"}}}}
    run = run_of_job(dagster_instance, dg.Definitions.merge(defs, resources), RESET_JOB_NAME, config)
    rebuilt = load_in_run_pod(dataclasses.replace(prod_settings, run_id=run.run_id), pinned)
    assert keys_of(rebuilt) == keys_of(defs)
