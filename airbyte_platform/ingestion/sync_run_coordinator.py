"""The instance's run coordinator: Dagster's queued run coordinator, which also tags every run that
syncs an Airbyte connection with `airbyte/sync=true` before queueing it.

Why a subclass: the run queue's tag concurrency limits read run tags, and a run gets only its job's
tags. The Airflow-named jobs carry `airbyte/sync`, but a click on Materialize in the asset graph, a
sensor's or declarative automation's asset selection, and a backfill run Dagster's implicit asset job,
which carries none (dagster-io/dagster#15752, #33430): those runs passed the limit that protects
Airbyte's workers. Here the tag is read off the run's own plan (a step whose op carries the connection
tags of `sync_ops.py`), whatever launched it: the webserver, the daemon's sensors, schedules and
automation all submit through this class. It imports only Dagster and `sync_ops`, because the
webserver and the daemon load it from the instance's dagster.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.snap.execution_plan_snapshot import ExecutionPlanSnapshot
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from airbyte_platform.ingestion.sync_ops import CONNECTION_ID_TAG, SYNC_RUN_TAG

# dagster.yaml's `run_coordinator` (make dev's instance, the Helm values' CustomRunCoordinator).
MODULE = __name__
CLASS = "SyncRunCoordinator"


def syncs_a_connection(plan: ExecutionPlanSnapshot) -> bool:
    """Whether a step the plan executes is an Airbyte sync op (its op carries the connection tags)."""
    to_execute = set(plan.step_keys_to_execute) or {step.key for step in plan.steps}
    return any(step.key in to_execute and CONNECTION_ID_TAG in (step.tags or {}) for step in plan.steps)


class SyncRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        tags = self._sync_tags(run)
        if tags:
            self._instance.add_run_tags(run.run_id, tags)
            run = self._instance.get_run_by_id(run.run_id) or run.with_tags({**run.tags, **tags})
            context = SubmitRunContext(run, context.workspace)
        return super().submit_run(context)

    def _sync_tags(self, run: DagsterRun) -> Mapping[str, str]:
        if run.status != DagsterRunStatus.NOT_STARTED or SYNC_RUN_TAG in run.tags:
            return {}  # already queued, or tagged by its job (the Airflow-named jobs): nothing to read
        if not run.execution_plan_snapshot_id:
            return {}
        try:
            plan = self._instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        except Exception as error:  # a launch must never fail on this lookup
            self._logger.warning(
                f"Run {run.run_id}: its plan could not be read ({error}); it is queued without the "
                f"{SYNC_RUN_TAG} tag, so the limit on concurrent Airbyte syncs does not count it."
            )
            return {}
        return {SYNC_RUN_TAG: "true"} if syncs_a_connection(plan) else {}
