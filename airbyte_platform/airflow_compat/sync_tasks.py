"""The seeds' task callables, importable by users' code: change the import, keep the calls.

    from airbyte_platform.airflow_compat import trigger_airbyte_sync, validate_sync_results

    result = trigger_airbyte_sync(connection_id="stripe_to_postgres", validate_connection=True)
    stats = validate_sync_results(result, min_records=100)

They work in both modes (`airbyte_hook()` picks the Airbyte server in prod, the embedded runner
locally). Where Airflow code passed `task_instance=context["ti"]` (or `ti=` in **context), the
values the seeds pushed to XCom are pushed the same way: `airbyte_job_id` and `airbyte_sync_result`
by the sync, `sync_stats` by the validation. Inside Dagster, pass `context=` (an op or asset
context) and the statistics become the output's metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from airbyte_platform.airflow_compat.hook import AirbyteHook
from airbyte_platform.airflow_compat.local_hook import LocalAirbyteHook
from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.ingestion.airbyte_server.polling import parse_iso_duration
from airbyte_platform.settings import Settings, get_settings

XCOM_JOB_ID = "airbyte_job_id"
XCOM_SYNC_RESULT = "airbyte_sync_result"
XCOM_SYNC_STATS = "sync_stats"


class SyncHook(Protocol):
    def trigger_sync(self, connection_id: str, retry_on_failure: bool = True) -> dict[str, Any]: ...

    def wait_for_job_completion(
        self, job_id: int | str, timeout_minutes: float = 60, check_interval: float = 30
    ) -> dict[str, Any]: ...

    def get_connection_info(self, connection_id: str) -> dict[str, Any]: ...


class SyncValidationError(ValueError):
    """The sync transferred fewer records than required."""


def airbyte_hook(settings: Settings | None = None, max_retries: int = 3) -> AirbyteHook | LocalAirbyteHook:
    """The hook of this mode: the Airbyte server (prod) or the embedded runner (local)."""
    settings = settings or get_settings()
    if settings.is_local:
        return LocalAirbyteHook(settings)
    return AirbyteHook.from_settings(settings, max_retries=max_retries)


def resolve_connection_id(connection_id: str, settings: Settings | None = None) -> str:
    """A declared connection name (`stripe_to_postgres`) becomes its Airbyte id in prod; ids pass through."""
    settings = settings or get_settings()
    if settings.is_local:
        return connection_id
    for connection in declared_connections():
        if connection.name == connection_id:
            resolved = settings.connection_ids.get(connection.connection_id_variable)
            if not resolved:
                raise ValueError(
                    f"connection {connection_id!r} is declared but {connection.connection_id_variable} is not set"
                )
            return resolved
    return connection_id


def _task_instance(task_instance: Any, context: Mapping[str, Any]) -> Any:
    ti = task_instance if task_instance is not None else context.get("ti", context.get("task_instance"))
    return ti if hasattr(ti, "xcom_push") else None


@dataclass(frozen=True)
class SyncTuning:
    timeout_minutes: float
    check_interval: float
    max_retries: int


DEFAULT_TUNING = SyncTuning(timeout_minutes=60, check_interval=30, max_retries=3)


def sync_tuning(connection_id: str, settings: Settings | None = None) -> SyncTuning:
    """The seeds' large-sync tuning for AIRBYTE_LARGE_SYNC_CONNECTION_ID, the defaults for the rest."""
    large = (settings or get_settings()).large_sync
    if large is not None and connection_id == large.connection_id:
        return SyncTuning(large.timeout_minutes, large.check_interval_seconds, large.max_retries)
    return DEFAULT_TUNING


def trigger_airbyte_sync(
    connection_id: str,
    validate_connection: bool = False,
    task_instance: Any = None,
    *,
    hook: SyncHook | None = None,
    timeout_minutes: float | None = None,
    check_interval: float | None = None,
    settings: Settings | None = None,
    **context: Any,
) -> dict[str, Any]:
    """Sync one connection to the end and return its result (job id, status, records, bytes).

    `validate_connection=True` first checks that the connection exists and is active, and fails
    with its status otherwise (a paused connection would never sync). Without `timeout_minutes` /
    `check_interval`, the connection's tuning applies: the seeds' 720 min / 60 s / 5 retries for
    AIRBYTE_LARGE_SYNC_CONNECTION_ID, 60 min / 30 s / 3 retries otherwise.
    """
    settings = settings or get_settings()
    server = (hook is None and not settings.is_local) or isinstance(hook, AirbyteHook)
    # The server hook needs Airbyte ids; the local hook knows the declared names itself.
    resolved = resolve_connection_id(connection_id, settings) if server else connection_id
    tuning = sync_tuning(resolved, settings)
    hook = hook or airbyte_hook(settings, max_retries=tuning.max_retries)
    timeout_minutes = tuning.timeout_minutes if timeout_minutes is None else timeout_minutes
    check_interval = tuning.check_interval if check_interval is None else check_interval
    if validate_connection:
        info = hook.get_connection_info(resolved)
        if info.get("status", "active") != "active":
            raise ValueError(
                f"Airbyte connection {connection_id} ({info.get('name')}) is {info.get('status')}: "
                "enable it in Airbyte before syncing"
            )
    started = hook.trigger_sync(resolved)
    job = hook.wait_for_job_completion(
        started["jobId"], timeout_minutes=timeout_minutes, check_interval=check_interval
    )
    result = {
        "job_id": int(job["jobId"]),
        "connection_id": resolved,
        "status": job["status"],
        "records_synced": int(job.get("rowsSynced") or 0),
        "bytes_synced": int(job.get("bytesSynced") or 0),
        "duration_seconds": parse_iso_duration(job.get("duration")),
    }
    ti = _task_instance(task_instance, context)
    if ti is not None:
        ti.xcom_push(key=XCOM_JOB_ID, value=result["job_id"])
        ti.xcom_push(key=XCOM_SYNC_RESULT, value=result)
    return result


def validate_sync_results(
    sync_result: Mapping[str, Any] | None = None,
    min_records: int = 0,
    task_instance: Any = None,
    **context: Any,
) -> dict[str, Any]:
    """Check that a sync transferred at least `min_records` records; return and record its statistics.

    The sync result comes from `sync_result` (what `trigger_airbyte_sync` returned) or, as in
    Airflow, from the task instance's XCom (`airbyte_sync_result`). The statistics are recorded
    before a failure is raised, so a failed validation still shows what was synced.
    """
    ti = _task_instance(task_instance, context)
    if sync_result is None and ti is not None:
        sync_result = ti.xcom_pull(key=XCOM_SYNC_RESULT)
    if not sync_result:
        raise ValueError(
            "validate_sync_results needs the sync's result: pass what trigger_airbyte_sync returned "
            "(or a task_instance whose XCom holds airbyte_sync_result)"
        )
    records = int(sync_result.get("records_synced") or 0)
    stats = {
        "job_id": sync_result.get("job_id"),
        "connection_id": sync_result.get("connection_id"),
        "status": sync_result.get("status"),
        "records_synced": records,
        "bytes_synced": int(sync_result.get("bytes_synced") or 0),
        "duration_seconds": sync_result.get("duration_seconds"),
        "min_records": min_records,
        "passed": records >= min_records and sync_result.get("status") == "succeeded",
    }
    if ti is not None:
        ti.xcom_push(key=XCOM_SYNC_STATS, value=stats)
    dagster_context = context.get("context")
    if dagster_context is not None and hasattr(dagster_context, "add_output_metadata"):
        dagster_context.add_output_metadata({f"sync_stats/{k}": v for k, v in stats.items() if v is not None})
    if not stats["passed"]:
        raise SyncValidationError(
            f"Airbyte job {stats['job_id']} of connection {stats['connection_id']} ended {stats['status']} "
            f"with {records} records: at least {min_records} were required (min_records)"
        )
    return stats
