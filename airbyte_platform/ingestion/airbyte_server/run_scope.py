"""Which discovered connections a run pod builds: the ones its run selects, not the whole workspace.

A run worker loads the code location before it runs anything, and at 5,000 connections x 10 streams
building every discovered connection's assets is most of its start (~12 s of a 5 s budget: bench/scale.py).
A run that syncs one connection needs that connection's assets, the declared ones (the transforms and
jobs refer to them) and nothing else: Dagster rebuilds the run's plan from the job it reconstructs and
does not compare the rest of the repository with the code server's.

The run id comes from `AIRBYTE_PLATFORM_RUN_ID`, which the K8sRunLauncher's pods get from their own
`dagster/run-id` label through the Downward API (deploy/helm/values.yaml). Dagster passes no run id to
definitions loading, and a code server or a local run (no such variable) builds everything, as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.snap.execution_plan_snapshot import ExecutionPlanSnapshot

from airbyte_platform.ingestion.airbyte_server.translator import DISCOVERED_PREFIX
from airbyte_platform.settings import Settings


@dataclass(frozen=True)
class RunScope:
    """The discovered connections (by key part) one run needs; `everything` when it cannot be narrowed."""

    run: dg.DagsterRun | None
    key_parts: frozenset[str] | None  # None: every discovered connection
    reason: str

    @property
    def everything(self) -> bool:
        return self.key_parts is None

    def includes(self, key_part: str) -> bool:
        return self.key_parts is None or key_part in self.key_parts


EVERYTHING = RunScope(run=None, key_parts=None, reason="not a run pod")


def discovered_key_part(key: dg.AssetKey) -> str | None:
    """The connection part of a discovered asset's key (`airbyte/<connection>/<stream>`), else None."""
    path = key.path
    return path[1] if len(path) == 3 and path[0] == DISCOVERED_PREFIX else None


def _scope(run: dg.DagsterRun, keys: set[dg.AssetKey], source: str) -> RunScope:
    parts = frozenset(part for key in keys if (part := discovered_key_part(key)) is not None)
    return RunScope(run, parts, f"run {run.run_id}: {len(keys)} assets {source}")


def scope_of_run(run: dg.DagsterRun, plan: ExecutionPlanSnapshot | None = None) -> RunScope:
    """What `run` needs: the connections of the assets and checks it selects, else of its plan's steps.

    A run launched with a selection (the UI's Materialize, the trigger sensors) names its assets. A whole
    asset job launched by a schedule names none, but the plan stored with the run does: every step of
    an asset job outputs assets or checks. A step that outputs neither (an op job such as the reset
    job, which may touch any connection) means the whole workspace is built.
    """
    if run.asset_selection is not None:
        keys = set(run.asset_selection) | {check.asset_key for check in run.asset_check_selection or ()}
        return _scope(run, keys, "and checks selected")
    if plan is None:
        return RunScope(run, None, f"run {run.run_id} of {run.job_name}: no selection and no plan")
    keys: set[dg.AssetKey] = set()
    for step in plan.steps:
        # A subset multi-asset step also lists its unselected outputs, with neither key.
        properties = [output.properties for output in step.outputs if output.properties is not None]
        step_keys = {p.asset_key for p in properties if p.asset_key is not None} | {
            p.asset_check_key.asset_key for p in properties if p.asset_check_key is not None
        }
        if not step_keys:
            return RunScope(run, None, f"run {run.run_id}: step {step.key} outputs no asset")
        keys |= step_keys
    return _scope(run, keys, "in its plan")


def run_scope(settings: Settings) -> RunScope:
    """The scope of the run this process executes, or EVERYTHING outside a run pod.

    Narrowed only while Dagster reconstructs the definitions for a run (never in a code server, which
    must show the whole workspace), and only when the run can be read: otherwise everything is built,
    which is slower but always correct.
    """
    if settings.run_id is None:
        return EVERYTHING
    if DefinitionsLoadContext.get().load_type != DefinitionsLoadType.RECONSTRUCTION:
        return RunScope(None, None, "not a reconstruction (a code server or a CLI load)")
    from airbyte_platform.ingestion.airbyte_server.workspace_state import home_instance

    instance = home_instance()
    run = instance.get_run_by_id(settings.run_id) if instance is not None else None
    if instance is None or run is None:
        dg.get_dagster_logger().warning(
            f"AIRBYTE_PLATFORM_RUN_ID={settings.run_id}: no such run in the instance of DAGSTER_HOME; "
            "building every discovered connection"
        )
        return RunScope(None, None, "run not found")
    plan = None
    if run.asset_selection is None and run.execution_plan_snapshot_id:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    return scope_of_run(run, plan)


def report_scope(scope: RunScope, built: int, discovered: int) -> None:
    """Say in the run's own log what this process built: operators see why a run pod started fast,
    or which connections it lacked if a selection ever names one it did not build."""
    if scope.run is None or scope.everything:
        return
    from airbyte_platform.ingestion.airbyte_server.workspace_state import home_instance

    message = (
        f"Process {os.getpid()} built the assets of {built} of the {discovered} Airbyte connections "
        "discovered in the workspace: the ones this run selects (plus the declared connections)."
    )
    dg.get_dagster_logger().info(message)
    instance = home_instance()
    if instance is not None:
        instance.report_engine_event(message, dagster_run=scope.run)
