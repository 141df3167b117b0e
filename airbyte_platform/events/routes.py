"""Who consumes which event: the route names, and the jobs `POST /webhooks/trigger` may launch.

A route is the name of the consumer that reads an event from the inbox; for runs it is the
Airflow DAG id the Dagster job kept (`airflow_compat.dags`). The receiver validates a trigger with
`validate_trigger` before storing it, and the sensors re-read the same rules, so an event the
receiver accepted is one the sensor can launch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.core.specs import connection_for_id, connection_id_for
from airbyte_platform.settings import Settings

# Stripe → PostgreSQL when Stripe reports activity, at most once per 6 hours (DAG event_driven_sync).
EVENT_DRIVEN_SYNC = "event_driven_sync"
# One connection's sync on demand, `{"connection_id": ...}` (DAG airbyte_event_driven_sync).
AIRBYTE_EVENT_DRIVEN_SYNC = "airbyte_event_driven_sync"
# The CDC slot checks on demand (DAG postgres_cdc_replication).
POSTGRES_CDC_REPLICATION = "postgres_cdc_replication"
# Airbyte sync notifications: no run, the sensor reports the sync on the connection's assets.
AIRBYTE_NOTIFICATIONS = "airbyte_notifications"

STRIPE_CONNECTION = "stripe_to_postgres"  # what event_driven_sync syncs
CDC_CONNECTION = "app_postgres_cdc"  # whose slot postgres_cdc_replication checks


@dataclass(frozen=True)
class TriggerJob:
    name: str
    what: str
    run_config_keys: tuple[str, ...] = ()  # accepted keys; all are required

    def usage(self) -> str:
        if not self.run_config_keys:
            return f"{self.name} (no run_config)"
        return f"{self.name} (run_config: {', '.join(self.run_config_keys)})"


TRIGGER_JOBS: Mapping[str, TriggerJob] = {
    job.name: job
    for job in (
        TriggerJob(
            AIRBYTE_EVENT_DRIVEN_SYNC, "sync the connection's assets", run_config_keys=("connection_id",)
        ),
        TriggerJob(EVENT_DRIVEN_SYNC, "Stripe → PostgreSQL, if the last sync is older than 6 hours"),
        TriggerJob(POSTGRES_CDC_REPLICATION, "check the CDC slot health and lag"),
    )
}


class TriggerError(ValueError):
    """A trigger the receiver refuses (422); the message lists what is accepted.

    `reason`: one word for the receiver's intake counter (unknown_job, unknown_connection,
    invalid_trigger)."""

    def __init__(self, message: str, reason: str = "invalid_trigger"):
        super().__init__(message)
        self.reason = reason


def discovered_connection_ids(settings: Settings) -> set[str]:
    """Ids of the workspace's other connections (prod, discovery on), from the stored workspace state
    that the code location's assets were built from: those can be triggered too."""
    if settings.is_local or settings.airbyte is None or settings.airbyte.discovery == "off":
        return set()
    from airbyte_platform.ingestion.airbyte_server.workspace_state import stored_workspace

    snapshot = stored_workspace(settings)
    return {connection.connection_id for connection in snapshot.connections} if snapshot else set()


def known_connection_ids(settings: Settings) -> list[str]:
    ids: list[str] = []
    for connection in declared_connections():
        try:
            ids.append(connection_id_for(connection, settings))
        except KeyError:
            continue
    return ids


def validate_trigger(job_name: Any, run_config: Any, settings: Settings) -> dict[str, Any]:
    """The run config to store for this trigger, or TriggerError saying what to fix."""
    if not isinstance(job_name, str) or job_name not in TRIGGER_JOBS:
        known = "; ".join(job.usage() for job in TRIGGER_JOBS.values())
        raise TriggerError(f"unknown job {job_name!r}; known jobs: {known}", reason="unknown_job")
    job = TRIGGER_JOBS[job_name]
    run_config = {} if run_config is None else run_config
    if not isinstance(run_config, dict):
        raise TriggerError(f"run_config of {job_name} must be a JSON object, got {type(run_config).__name__}")
    unexpected = sorted(set(run_config) - set(job.run_config_keys))
    if unexpected:
        raise TriggerError(f"{job.usage()} does not take {', '.join(unexpected)}")
    missing = [key for key in job.run_config_keys if key not in run_config]
    if missing:
        raise TriggerError(f"{job.usage()}: run_config is missing {', '.join(missing)}")
    if "connection_id" in run_config:
        connection_id = run_config["connection_id"]
        if not isinstance(connection_id, str) or (
            connection_for_id(connection_id, settings) is None
            and connection_id not in discovered_connection_ids(settings)
        ):
            raise TriggerError(
                f"unknown connection_id {connection_id!r}; known: {', '.join(known_connection_ids(settings))}",
                reason="unknown_connection",
            )
    return dict(run_config)
