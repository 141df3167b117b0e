"""`AirbyteHook`'s methods in local mode: the declared connections synced by the embedded runner.

Connection ids are the declared connection names (as everywhere in local mode). A sync runs to the
end inside `trigger_sync` (there is no server to run it in the background); the returned job
already has its terminal status and the public API's fields (`jobId`, `status`, `rowsSynced`,
`bytesSynced`, `duration`), so `wait_for_job_completion` and `validate_sync_results` work unchanged.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from airbyte_platform.core.catalog import ConnectionSpec, declared_connections
from airbyte_platform.ingestion.airbyte_server.jobs import AirbyteJobFailedError
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner, EmbeddedSyncError
from airbyte_platform.ingestion.local_defs import build_destinations_resource
from airbyte_platform.settings import Settings, get_settings

_log = logging.getLogger(__name__)


class LocalAirbyteHook:
    def __init__(self, settings: Settings | None = None, log: logging.Logger | None = None):
        self.settings = settings or get_settings()
        self.log = log or _log
        self._jobs: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _connection(self, connection_id: str) -> ConnectionSpec:
        for connection in declared_connections():
            if connection_id in (
                connection.name,
                self.settings.connection_ids.get(connection.connection_id_variable),
            ):
                return connection
        names = ", ".join(c.name for c in declared_connections())
        raise ValueError(f"unknown connection {connection_id!r}: locally the connections are {names}")

    def _runner(self, connection: ConnectionSpec) -> EmbeddedAirbyteRunner:
        destinations = build_destinations_resource(self.settings)
        return EmbeddedAirbyteRunner(
            connectors_dir=self.settings.connectors_dir,
            lake_root=destinations.lake_root,
            # Only a PostgreSQL destination needs the server (locally: started on first use).
            postgres_dsn=destinations.postgres_uri() if connection.destination == "postgres" else None,
            log=self.log,
        )

    def trigger_sync(self, connection_id: str, retry_on_failure: bool = True) -> dict[str, Any]:
        connection = self._connection(connection_id)
        with self._lock:
            job_id = next(self._ids)
        started = time.time()
        job: dict[str, Any] = {
            "jobId": job_id,
            "jobType": "sync",
            "connectionId": connection.name,
            "startTime": datetime.fromtimestamp(started, UTC).isoformat(),
        }
        try:
            results = self._runner(connection).sync(connection)
        except EmbeddedSyncError as exc:
            job.update(status="failed", rowsSynced=0, bytesSynced=0, failureReason=str(exc))
        else:
            job.update(
                status="succeeded",
                rowsSynced=sum(r.records_synced for r in results),
                bytesSynced=sum(r.bytes_synced for r in results),
                streams={r.stream: r.records_synced for r in results},
            )
        job["duration"] = f"PT{time.time() - started:.3f}S"
        job["lastUpdatedAt"] = datetime.now(UTC).isoformat()
        self._jobs[job_id] = job
        return dict(job)

    def wait_for_job_completion(
        self, job_id: int | str, timeout_minutes: float = 60, check_interval: float = 30
    ) -> dict[str, Any]:
        job = self.get_job_info(job_id)
        if job["status"] != "succeeded":
            raise AirbyteJobFailedError(
                description=f"local sync job {job_id} of connection {job['connectionId']} ended "
                f"{job['status']}: {job.get('failureReason', '')}",
                metadata={"airbyte/job_id": int(job_id), "airbyte/status": job["status"]},
            )
        return job

    def get_job_info(self, job_id: int | str) -> dict[str, Any]:
        try:
            return dict(self._jobs[int(job_id)])
        except KeyError:
            raise ValueError(
                f"no local sync job {job_id} in this process (jobs: {sorted(self._jobs)})"
            ) from None

    def get_connection_info(self, connection_id: str) -> dict[str, Any]:
        return _connection_json(self._connection(connection_id))

    def list_connections(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        return [_connection_json(c) for c in declared_connections()]


def _connection_json(connection: ConnectionSpec) -> dict[str, Any]:
    """The declared connection in the public API's shape (`connectionId`, `name`, `status`, streams)."""
    return {
        "connectionId": connection.name,
        "name": connection.title,
        "status": "active",
        "configurations": {
            "streams": [{"name": s.name, "syncMode": s.sync_mode} for s in connection.streams]
        },
        "destination": connection.destination,
        "connector": connection.local.connector,
    }
