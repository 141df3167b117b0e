"""The JSON bodies of the Airflow spec (DAG, DAGRun, TaskInstance) built from Dagster facts.

Fields Airflow fills from its own metadata database and that have no Dagster counterpart are
present with the spec's empty value (null, false, []), so strict clients still deserialize them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airbyte_platform.airflow_compat import dags as dags_module
from airbyte_platform.airflow_compat.dags import DagSpec, TaskMapping
from airbyte_platform.airflow_compat.rest.dagster_api import JobInfo, PlannedWork, RunInfo
from airbyte_platform.airflow_compat.rest.states import dag_run_state, task_state

# Tags the facade writes on the runs it launches (Dagster tags are strings).
TAG_DAG_ID = "airflow/dag_id"
TAG_DAG_RUN_ID = "airflow/dag_run_id"
TAG_LOGICAL_DATE = "airflow/logical_date"
TAG_CONF = "airflow/conf"
TAG_NOTE = "airflow/note"
TAG_RUN_TYPE = "airflow/run_type"

_DAGS_FILE = dags_module.__file__


def iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def is_paused(job: JobInfo | None) -> bool:
    """Paused when the job has schedules or sensors and none of them runs.

    A DAG nothing starts automatically (triggered only) is never paused, as a freshly unpaused DAG.
    """
    if job is None or not job.instigators:
        return False
    return not any(instigator.running for instigator in job.instigators)


def dag_payload(spec: DagSpec, job: JobInfo | None) -> dict[str, Any]:
    schedules = [i for i in (job.instigators if job else ()) if i.kind == "schedule"]
    sensors = [i for i in (job.instigators if job else ()) if i.kind == "sensor"]
    cron = schedules[0].cron_schedule if schedules else spec.schedule
    next_tick = min((s.next_tick for s in schedules if s.running and s.next_tick), default=None)
    automation = [f"schedule {s.name}" for s in schedules] + [f"sensor {s.name}" for s in sensors]
    return {
        "dag_id": spec.dag_id,
        "dag_display_name": spec.dag_id,
        "is_paused": is_paused(job),
        "is_active": job is not None,  # the webserver's code location defines the job
        "last_parsed_time": None,
        "last_pickled": None,
        "last_expired": None,
        "scheduler_lock": None,
        "pickle_id": None,
        "default_view": "grid",
        "fileloc": _DAGS_FILE,
        "file_token": spec.dag_id,
        "owners": [],
        "description": spec.description,
        "schedule_interval": {"__type": "CronExpression", "value": cron} if cron else None,
        "timetable_description": (
            f"Dagster {', '.join(automation)}" if automation else "Triggered runs only (no schedule)"
        ),
        "tags": [{"name": "dagster"}, *({"name": f"{k}={v}"} for k, v in sorted(spec.tags.items()))],
        "max_active_tasks": None,
        "max_active_runs": None,
        "has_task_concurrency_limits": None,
        "has_import_errors": job is None,
        "next_dagrun": iso(next_tick),
        "next_dagrun_data_interval_start": None,
        "next_dagrun_data_interval_end": None,
        "next_dagrun_create_after": iso(next_tick),
        "max_consecutive_failed_dag_runs": None,
    }


def dag_run_id_of(run: RunInfo) -> str:
    """The facade's id for a run: the caller's dag_run_id, or the Dagster run id for runs started
    elsewhere (UI, schedule, sensor), which GET .../dagRuns/{dag_run_id} also accepts."""
    return run.tags.get(TAG_DAG_RUN_ID) or run.run_id


def run_type_of(run: RunInfo) -> str:
    if "dagster/backfill" in run.tags:
        return "backfill"
    if "dagster/schedule_name" in run.tags:
        return "scheduled"
    return "manual"


def logical_date_of(run: RunInfo) -> str:
    return run.tags.get(TAG_LOGICAL_DATE) or iso(run.creation_time) or ""


def dag_run_payload(dag_id: str, run: RunInfo) -> dict[str, Any]:
    logical_date = logical_date_of(run)
    run_type = run_type_of(run)
    return {
        "dag_run_id": dag_run_id_of(run),
        "dag_id": dag_id,
        "logical_date": logical_date,
        "execution_date": logical_date,
        "start_date": iso(run.start_time),
        "end_date": iso(run.end_time),
        "data_interval_start": logical_date,
        "data_interval_end": logical_date,
        "last_scheduling_decision": iso(run.update_time),
        "run_type": run_type,
        "state": dag_run_state(run.status),
        "external_trigger": run_type != "scheduled",
        "conf": json.loads(run.tags[TAG_CONF]) if TAG_CONF in run.tags else {},
        "note": run.tags.get(TAG_NOTE),
    }


def steps_of_task(task: TaskMapping, planned: PlannedWork) -> list[str]:
    """The step keys that do a task's work in one run: steps materializing its assets or running its
    checks (a check task's checks are found by name on whichever assets the run planned them for)."""
    wanted = {tuple(key.path) for key in task.assets}
    steps = {step for asset, step in planned.asset_steps.items() if asset in wanted}
    names = set(task.check_names)
    steps |= {step for (_, name), step in planned.check_steps.items() if name in names}
    # Op jobs (resilient_sync) plan no asset steps: their ops' step keys are the ops' names.
    return sorted(steps | set(task.ops))


def task_instance_payloads(spec: DagSpec, run: RunInfo, planned: PlannedWork) -> list[dict[str, Any]]:
    stats = {stat.step_key: stat for stat in run.step_stats}
    max_tries = spec.retry_policy.max_retries if spec.retry_policy else 0
    logical_date = logical_date_of(run)
    out: list[dict[str, Any]] = []
    states = _task_states(spec, run, planned, stats)
    for task_id, task in spec.tasks.items():
        steps = steps_of_task(task, planned)
        step_stats = [stats.get(step) for step in steps]
        starts = [s.start_time for s in step_stats if s and s.start_time]
        ends = [s.end_time for s in step_stats if s and s.end_time]
        finished = bool(steps) and len(ends) == len(steps)
        start, end = (min(starts) if starts else None), (max(ends) if finished else None)
        out.append(
            {
                "task_id": task_id,
                "task_display_name": task_id,
                "dag_id": spec.dag_id,
                "dag_run_id": dag_run_id_of(run),
                "execution_date": logical_date,
                "start_date": iso(start),
                "end_date": iso(end),
                "duration": (end - start) if (start is not None and end is not None) else None,
                "state": states[task_id],
                "try_number": max((s.attempts for s in step_stats if s), default=0),
                "map_index": -1,
                "max_tries": max_tries,
                "hostname": "",
                "unixname": "",
                "pool": "default_pool",
                "pool_slots": 1,
                "queue": None,
                "priority_weight": None,
                "operator": _operator(task),
                "queued_when": None,
                "pid": None,
                "executor": None,
                "executor_config": "{}",
                "sla_miss": None,
                "rendered_map_index": None,
                "rendered_fields": {
                    "dagster_run_id": run.run_id,
                    "dagster_steps": steps,
                    "assets": [key.to_user_string() for key in task.assets],
                    "checks": list(task.check_names),
                },
                "trigger": None,
                "triggerer_job": None,
                "note": task.note or None,
            }
        )
    return out


def _task_states(
    spec: DagSpec, run: RunInfo, planned: PlannedWork, stats: Mapping[str, Any]
) -> dict[str, str | None]:
    """Each task's state from its steps. A task that runs only after another failed (resilient_sync's
    fallback_sync, TriggerRule.ALL_FAILED) and did run means that one failed, as Airflow shows it,
    even though its step handed the failure on instead of failing the run."""
    states: dict[str, str | None] = {}
    for task_id, task in spec.tasks.items():
        step_stats = [stats.get(step) for step in steps_of_task(task, planned)]
        states[task_id] = task_state(run.status, [s.status if s else None for s in step_stats])
    for task_id, task in spec.tasks.items():
        if task.after_failure_of and states[task_id] in ("running", "success", "failed"):
            states[task.after_failure_of] = "failed"
    return states


def _operator(task: TaskMapping) -> str | None:
    if task.assets:
        return "DagsterAssetStep"
    if task.check_names:
        return "DagsterAssetCheck"
    return None


def page(items: Sequence[Any], limit: int, offset: int) -> list[Any]:
    return list(items[offset : offset + limit])


def conf_tag(conf: Mapping[str, Any]) -> str:
    return json.dumps(conf, sort_keys=True, separators=(",", ":"))
