"""Each documented job launched through the webserver's GraphQL API, as the UI's launchpad launches it
(default selection, checks included), runs in its own process through the run queue and succeeds."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.airflow_compat.dags import DAG_IDS, RESILIENT_SYNC
from airbyte_platform.airflow_compat.resilient import validated_checks

from .conftest import Topology

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]


def _check_events(instance: dg.DagsterInstance, run_id: str) -> tuple[set[str], dict[str, tuple[bool, bool]]]:
    """Planned check keys, and per evaluated check (passed, blocking)."""
    planned = {
        record.dagster_event.event_specific_data.asset_check_key.to_user_string()  # type: ignore[union-attr]
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
    }
    evaluated = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        evaluated[evaluation.asset_check_key.to_user_string()] = (
            evaluation.passed,
            bool(evaluation.blocking),
        )
    return planned, evaluated


@pytest.mark.timeout(1500)
def test_every_documented_job_succeeds_when_launched_from_the_ui(topology: Topology) -> None:
    run_ids = {job: topology.ui.launch(job) for job in DAG_IDS}
    try:
        statuses = topology.ui.wait(list(run_ids.values()), timeout=900)
    finally:  # never leave queued runs in the way of the next tests
        topology.ui.terminate_unfinished(list(run_ids.values()))
    failed = {job: statuses[run_id] for job, run_id in run_ids.items() if statuses[run_id] != "SUCCESS"}
    assert not failed, f"{failed}\n{topology.log_tail()}"

    instance = topology.instance()
    for job, run_id in run_ids.items():
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.tags["airflow/dag_id"] == job
        planned, evaluated = _check_events(instance, run_id)
        if job == RESILIENT_SYNC:  # an op job (trigger rules): validate_sync evaluates its checks at run time
            assert not planned
            planned = {key.to_user_string() for key in validated_checks()}
        assert planned, f"{job} planned no checks"
        assert set(evaluated) == planned, (
            f"{job}: checks planned but not evaluated: {planned - set(evaluated)}"
        )
        blocking_failed = [k for k, (passed, blocking) in evaluated.items() if blocking and not passed]
        assert not blocking_failed, f"{job}: blocking checks failed: {blocking_failed}"
        # Non-blocking checks report, they do not gate the run: locally nothing consumes the CDC stand-in's
        # slot, and check_cdc_health warns about an inactive slot by design (events/test_cdc.py).
