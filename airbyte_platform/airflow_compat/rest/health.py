"""GET /api/v1/health: Airflow's components, answered by their Dagster counterparts.

- metadatabase: the webserver answers GraphQL (it reads the instance's storage to do so);
- scheduler: the daemon's scheduler and run queue (both are needed for runs to start);
- triggerer: the daemon's sensor loop (event-driven DAGs);
- dag_processor: the code location loads (the documented DAG jobs are defined).
Like Airflow, it always answers 200 and needs no credentials; each part says healthy or unhealthy.
"""

from __future__ import annotations

from typing import Any

from airbyte_platform.airflow_compat.rest.dagster_api import DagsterApiError, DagsterWebserver
from airbyte_platform.airflow_compat.rest.payloads import iso


def _part(statuses: dict[str, Any], daemon_types: tuple[str, ...]) -> tuple[str | None, float | None]:
    found = [statuses[t] for t in daemon_types if t in statuses]
    if not found:
        return None, None
    healthy = all(s.healthy is not False for s in found)
    beats = [s.last_heartbeat for s in found if s.last_heartbeat is not None]
    return ("healthy" if healthy else "unhealthy"), (min(beats) if beats else None)


def health_payload(dagster: DagsterWebserver) -> dict[str, Any]:
    try:
        statuses = {s.daemon_type: s for s in dagster.daemon_statuses()}
    except DagsterApiError:
        down = {"status": "unhealthy"}
        return {
            "metadatabase": down,
            "scheduler": {**down, "latest_scheduler_heartbeat": None},
            "triggerer": {**down, "latest_triggerer_heartbeat": None},
            "dag_processor": {**down, "latest_dag_processor_heartbeat": None},
        }
    scheduler, scheduler_beat = _part(statuses, ("SCHEDULER", "QUEUED_RUN_COORDINATOR"))
    triggerer, triggerer_beat = _part(statuses, ("SENSOR",))
    try:
        loaded = bool(dagster.jobs())
    except DagsterApiError:
        loaded = False
    return {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": scheduler or "unhealthy", "latest_scheduler_heartbeat": iso(scheduler_beat)},
        "triggerer": {"status": triggerer, "latest_triggerer_heartbeat": iso(triggerer_beat)},
        "dag_processor": {
            "status": "healthy" if loaded else "unhealthy",
            "latest_dag_processor_heartbeat": None,
        },
    }
