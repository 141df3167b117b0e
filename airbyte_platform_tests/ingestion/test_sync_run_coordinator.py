"""The instance's run coordinator tags every run that syncs a connection with `airbyte/sync=true`, read
off the run's plan: runs of the implicit asset job (Materialize in the asset graph, automation, a
sensor's asset selection) carry no job tags, so the run queue's limit on concurrent syncs, the total
that protects Airbyte's workers, did not count them."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.execution.api import create_execution_plan
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.snap import snapshot_from_execution_plan
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from airbyte_platform.code_location import build_definitions
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG
from airbyte_platform.ingestion.sync_run_coordinator import CLASS, MODULE, syncs_a_connection
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.events.sensor_harness import connection_keys

TRANSFORM = dg.AssetKey(["snowflake", "customers_unified"])


@pytest.fixture(scope="module")
def asset_job() -> dg.JobDefinition:
    """`__ASSET_JOB`: the job a click on Materialize in the asset graph runs."""
    return build_definitions(load_settings({})).resolve_implicit_global_asset_job_def()


@pytest.fixture
def instance():
    coordinator = {"module": MODULE, "class": CLASS, "config": {"max_concurrent_runs": 4}}
    with dg.instance_for_test(overrides={"run_coordinator": coordinator}) as instance:
        yield instance


def _submit(instance: dg.DagsterInstance, job: dg.JobDefinition, selection: set[dg.AssetKey]):
    subset = job.get_subset(asset_selection=selection)
    run = instance.create_run_for_job(
        subset,
        execution_plan=create_execution_plan(subset),
        asset_selection=frozenset(selection),
        status=DagsterRunStatus.NOT_STARTED,
        remote_job_origin=RemoteJobOrigin(  # where a queued run is loaded from: the code location
            RemoteRepositoryOrigin(
                InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="airbyte_platform.definitions")),
                "__repository__",
            ),
            job.name,
        ),
    )
    # What DagsterInstance.submit_run calls (the queue reads no workspace).
    return instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))  # type: ignore[arg-type]


def test_a_materialize_of_a_connections_assets_is_queued_as_a_sync(instance, asset_job):
    assert asset_job.name == "__ASSET_JOB"
    assert SYNC_RUN_TAG not in asset_job.tags  # what the run would have had without the coordinator
    run = _submit(instance, asset_job, set(connection_keys("stripe_to_s3")[:1]))  # one stream is enough
    assert run.status == DagsterRunStatus.QUEUED
    assert run.tags[SYNC_RUN_TAG] == "true"
    assert instance.get_run_by_id(run.run_id).tags[SYNC_RUN_TAG] == "true"  # stored: the daemon reads it


def test_a_run_that_syncs_nothing_is_not_counted(instance, asset_job):
    run = _submit(instance, asset_job, {TRANSFORM})
    assert run.status == DagsterRunStatus.QUEUED
    assert SYNC_RUN_TAG not in run.tags


def test_a_re_execution_of_only_the_steps_after_the_sync_is_not_a_sync(asset_job):
    keys = {*connection_keys("stripe_to_s3"), TRANSFORM}
    subset = asset_job.get_subset(asset_selection=keys)
    whole = snapshot_from_execution_plan(create_execution_plan(subset), subset.get_job_snapshot_id())
    assert syncs_a_connection(whole)
    not_sync = [step.key for step in whole.steps if "airbyte_sync_" not in step.key]
    assert not_sync and len(not_sync) < len(whole.steps)
    rest = create_execution_plan(subset, step_keys_to_execute=not_sync)
    assert not syncs_a_connection(snapshot_from_execution_plan(rest, subset.get_job_snapshot_id()))


def test_an_unreadable_plan_queues_the_run_and_says_the_limit_does_not_count_it(
    instance, asset_job, monkeypatch, caplog
):
    def unreadable(snapshot_id: str):
        raise OSError("connection to the run storage lost")

    monkeypatch.setattr(instance, "get_execution_plan_snapshot", unreadable)
    run = _submit(instance, asset_job, set(connection_keys("stripe_to_s3")))
    assert run.status == DagsterRunStatus.QUEUED  # a launch never fails on the lookup
    assert SYNC_RUN_TAG not in run.tags
    assert "the limit on concurrent Airbyte syncs does not count it" in caplog.text


def test_the_webserver_and_daemon_load_it_without_the_code_location():
    """They import it from dagster.yaml: it must not pull in the settings (which would want the code
    location's environment in the webserver and daemon pods) or the definitions."""
    code = (
        "import sys, airbyte_platform.ingestion.sync_run_coordinator as m; "
        "print(sorted(n for n in sys.modules if n.startswith('airbyte_platform')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={})
    assert out.stdout.strip() == str(
        [
            "airbyte_platform",
            "airbyte_platform.ingestion",
            "airbyte_platform.ingestion.sync_ops",
            "airbyte_platform.ingestion.sync_run_coordinator",
        ]
    )
