"""`airbyte_reset_connection`: the seeds' "Reset de conexiones" as an explicit job."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.airbyte_server.defs import build_prod_ingestion_defs, build_workspace
from airbyte_platform.ingestion.airbyte_server.reset import RESET_JOB_NAME, RESET_OP_NAME
from airbyte_platform_tests.airbyte_server.conftest import FAST, declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan

HUBSPOT = connection_named("hubspot_to_postgres")


def run_reset(settings, connection: str, job_type: str = "reset") -> dg.ExecuteInProcessResult:
    defs = dg.Definitions.merge(
        build_prod_ingestion_defs(settings),
        dg.Definitions(resources={"airbyte": build_workspace(settings, **FAST)}),
    )
    job = defs.get_job_def(RESET_JOB_NAME)
    return job.execute_in_process(
        run_config={"ops": {RESET_OP_NAME: {"config": {"connection": connection, "job_type": job_type}}}},
        raise_on_error=False,
    )


@pytest.mark.parametrize("name", ["hubspot_to_postgres", declared_id(HUBSPOT)])
def test_reset_by_name_or_id_clears_the_connection_and_marks_its_assets(prod_settings, airbyte_state, name):
    result = run_reset(prod_settings, name)
    assert result.success
    [job] = airbyte_state.jobs_of(declared_id(HUBSPOT), job_type="reset")
    emptied = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert set(emptied) == {HUBSPOT.asset_key(s) for s in HUBSPOT.streams}
    assert all(
        m["dagster/row_count"].value == 0 and m["airbyte/job_id"].value == job.job_id
        for m in emptied.values()
    )


def test_clear_job_type_and_discovered_connections(prod_settings, airbyte_state):
    result = run_reset(prod_settings, "Zendesk → Snowflake", job_type="clear")
    assert result.success
    zendesk = next(c for c in airbyte_state.connections.values() if c.name == "Zendesk → Snowflake")
    assert [j.job_type for j in airbyte_state.jobs_of(zendesk.connection_id, job_type=None)] == ["clear"]


def test_a_running_sync_is_waited_for(prod_settings, airbyte_state):
    airbyte_state.set_plan(declared_id(HUBSPOT), JobPlan(duration_seconds=0.5))
    airbyte_state.trigger(declared_id(HUBSPOT), "sync")
    assert run_reset(prod_settings, "hubspot_to_postgres").success
    assert [j.job_type for j in airbyte_state.jobs_of(declared_id(HUBSPOT), job_type=None)] == [
        "sync",
        "reset",
    ]


def test_unknown_and_ambiguous_names_fail_with_the_candidates(prod_settings, airbyte_state):
    unknown = run_reset(prod_settings, "stripe")
    assert not unknown.success
    assert "stripe_to_postgres" in _failure(unknown)
    ambiguous = run_reset(prod_settings, "Nightly export")
    assert "use the connection id" in _failure(ambiguous)
    assert not [j for j in airbyte_state.jobs.values() if j.job_type == "reset"]


def _failure(result: dg.ExecuteInProcessResult) -> str:
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.error.message
