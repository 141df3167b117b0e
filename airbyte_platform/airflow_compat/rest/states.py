"""Airflow states from Dagster statuses: a run's `DagState`, a task's `TaskState` from its steps.

Kept as pure functions so every mapping is pinned by a unit test without a webserver.
"""

from __future__ import annotations

from collections.abc import Sequence

# Dagster RunStatus -> Airflow DagState (queued, running, success, failed).
DAG_RUN_STATES: dict[str, str] = {
    "QUEUED": "queued",
    "NOT_STARTED": "queued",
    "STARTING": "queued",
    "STARTED": "running",
    "MANAGED": "running",
    "SUSPENDED": "queued",  # not executing, not finished: waiting, as a queued Airflow run
    "CANCELING": "running",
    "SUCCESS": "success",
    "FAILURE": "failed",
    "CANCELED": "failed",  # Airflow has no cancelled run; a run marked failed is the closest
}

FINISHED_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


def dag_run_state(run_status: str) -> str:
    try:
        return DAG_RUN_STATES[run_status]
    except KeyError:
        raise ValueError(f"unknown Dagster run status {run_status!r}") from None


def task_state(run_status: str, step_statuses: Sequence[str | None]) -> str | None:
    """The state of one Airflow task from the statuses of the Dagster steps that do its work.

    `step_statuses` has one entry per step planned for the task in this run (None: no event yet).
    An empty list means nothing in the run does this task's work: no status (null), as Airflow
    shows a task that has not been scheduled.
    """
    if not step_statuses:
        return None
    if "FAILURE" in step_statuses:
        return "failed"
    if "IN_PROGRESS" in step_statuses:
        return "running"
    if None in step_statuses:  # some step has not started
        if run_status in ("FAILURE", "CANCELED", "CANCELING"):
            return "upstream_failed"
        if run_status in ("QUEUED", "NOT_STARTED"):
            return "queued" if run_status == "QUEUED" else None
        if run_status == "SUCCESS":
            return "skipped"
        return "scheduled"
    if all(status == "SKIPPED" for status in step_statuses):
        return "skipped"
    return "success"  # every step succeeded (some may have been skipped as not needed)
