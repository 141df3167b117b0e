"""The fake server's state: workspaces, sources, destinations, connections and jobs.

Job status is computed from the clock on every read (no background thread): a job is pending for
`plan.pending_seconds`, running for `plan.duration_seconds`, then ends with `plan.outcome`, unless
it was cancelled first. Every method takes the state lock, so the threaded HTTP server can call
them concurrently.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from airbyte_platform_tests.airbyte_server.fake_airbyte.clock import ScaledClock

Outcome = Literal["succeeded", "failed", "cancelled"]
ACTIVE_STATUSES = ("pending", "running", "incomplete")
JOB_TYPES = ("sync", "reset", "refresh", "clear")
_ID_NAMESPACE = uuid.UUID("6f1b0c1e-3d7a-4c55-9a53-4a1d2b8e9f00")


def stable_id(kind: str, name: str) -> str:
    """A UUID derived from a name, so seeded workspaces get the same ids in every run."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{name}"))


class NotFound(KeyError):
    pass


class Conflict(RuntimeError):
    pass


@dataclass(frozen=True)
class JobPlan:
    """How the next jobs of a connection behave (simulated seconds)."""

    duration_seconds: float = 2.0
    pending_seconds: float = 0.0
    outcome: Outcome = "succeeded"
    rows_per_stream: int = 1000
    bytes_per_row: int = 200
    # Rows of particular streams, by "namespace.name" (or "name"), instead of rows_per_stream.
    stream_rows: tuple[tuple[str, int], ...] = ()
    # What Airbyte reports for a failed job (config API, attempt failureSummary).
    failure_message: str = "Something went wrong in the connector. See the logs for more details."
    failure_origin: str = "source"
    failure_type: str = "system_error"


@dataclass(frozen=True)
class StreamConf:
    name: str
    sync_mode: str = "incremental_append"
    cursor_field: tuple[str, ...] = ()
    primary_key: tuple[tuple[str, ...], ...] = ()
    namespace: str | None = None

    @property
    def label(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name

    def to_public(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "syncMode": self.sync_mode}
        if self.namespace:  # newer servers list it; the trimmed spec allows extra properties
            data["namespace"] = self.namespace
        if self.cursor_field:
            data["cursorField"] = list(self.cursor_field)
        if self.primary_key:
            data["primaryKey"] = [list(path) for path in self.primary_key]
        return data


@dataclass
class FakeConnection:
    connection_id: str
    name: str
    workspace_id: str
    source_id: str
    destination_id: str
    streams: list[StreamConf]
    prefix: str | None = None
    status: str = "active"
    deleted: bool = False

    def to_public(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "connectionId": self.connection_id,
            "name": self.name,
            "sourceId": self.source_id,
            "destinationId": self.destination_id,
            "workspaceId": self.workspace_id,
            "status": self.status,
            "schedule": {"scheduleType": "manual"},
            "dataResidency": "auto",
            "namespaceDefinition": "destination",
            "nonBreakingSchemaUpdatesBehavior": "ignore",
            "configurations": {"streams": [s.to_public() for s in self.streams]},
        }
        if self.prefix:
            data["prefix"] = self.prefix
        return data

    def to_config_api(self) -> dict[str, Any]:
        """`POST /api/v1/connections/get` (config API), the call dagster-airbyte makes per connection."""
        return {
            "connectionId": self.connection_id,
            "name": self.name,
            "prefix": self.prefix or "",
            "sourceId": self.source_id,
            "destinationId": self.destination_id,
            "status": self.status,
            "syncCatalog": {
                "streams": [
                    {
                        "stream": {
                            "name": s.name,
                            "namespace": s.namespace,
                            "jsonSchema": {
                                "type": "object",
                                "properties": {"id": {"type": "string"}, "updated_at": {"type": "string"}},
                            },
                        },
                        "config": {
                            "selected": True,
                            "syncMode": s.sync_mode.split("_")[0],
                            "destinationSyncMode": s.sync_mode,
                            "cursorField": list(s.cursor_field),
                            "primaryKey": [list(p) for p in s.primary_key],
                        },
                    }
                    for s in self.streams
                ]
            },
        }


@dataclass
class FakeJob:
    job_id: int
    connection_id: str
    job_type: str
    created_at: float
    plan: JobPlan
    streams: tuple[StreamConf, ...]
    cancelled_at: float | None = None

    @property
    def natural_end(self) -> float:
        return self.created_at + self.plan.pending_seconds + self.plan.duration_seconds

    def ended_at(self) -> float | None:
        """Simulated time at which the job reached its terminal status (None while active)."""
        if self.cancelled_at is not None and self.cancelled_at < self.natural_end:
            return self.cancelled_at
        return self.natural_end

    def status(self, now: float) -> str:
        if self.cancelled_at is not None and self.cancelled_at < self.natural_end:
            return "cancelled"
        if now < self.created_at + self.plan.pending_seconds:
            return "pending"
        if now < self.natural_end:
            return "running"
        return self.plan.outcome

    def rows(self, now: float) -> int:
        status = self.status(now)
        if self.job_type != "sync" or status in ACTIVE_STATUSES or status == "cancelled":
            return 0
        full = sum(self.stream_rows(stream) for stream in self.streams)
        return full if status == "succeeded" else full // 2

    def stream_rows(self, stream: StreamConf) -> int:
        return dict(self.plan.stream_rows).get(stream.label, self.plan.rows_per_stream)

    def to_public(self, now: float) -> dict[str, Any]:
        end = self.ended_at() if self.status(now) not in ACTIVE_STATUSES else None
        elapsed = (end if end is not None else now) - self.created_at
        rows = self.rows(now)
        return {
            "jobId": self.job_id,
            "status": self.status(now),
            "jobType": self.job_type,
            "startTime": iso_time(self.created_at),
            "connectionId": self.connection_id,
            "lastUpdatedAt": iso_time(min(now, end) if end is not None else now),
            "duration": iso_duration(max(elapsed, 0.0)),
            "rowsSynced": rows,
            "bytesSynced": rows * self.plan.bytes_per_row,
        }

    def to_config_api(self, now: float) -> dict[str, Any]:
        """`POST /api/v1/jobs/get`: the config API reports per-stream stats in the last attempt."""
        status = self.status(now)
        share = self.rows(now) / max(sum(self.stream_rows(s) for s in self.streams), 1)
        stream_stats = []
        for stream in self.streams:
            rows = int(self.stream_rows(stream) * share)
            entry: dict[str, Any] = {
                "streamName": stream.name,
                "stats": {
                    "recordsEmitted": rows,
                    "bytesEmitted": rows * self.plan.bytes_per_row,
                    "recordsCommitted": rows,
                    "bytesCommitted": rows * self.plan.bytes_per_row,
                },
            }
            if stream.namespace:
                entry["streamNamespace"] = stream.namespace
            stream_stats.append(entry)
        attempt: dict[str, Any] = {
            "id": 0,
            "status": status,
            "recordsSynced": self.rows(now),
            "bytesSynced": self.rows(now) * self.plan.bytes_per_row,
            "streamStats": stream_stats,
        }
        if status == "failed":
            attempt["failureSummary"] = {
                "failures": [
                    {
                        "failureOrigin": self.plan.failure_origin,
                        "failureType": self.plan.failure_type,
                        "externalMessage": self.plan.failure_message,
                        "internalMessage": f"io.airbyte.workers.exception.WorkerException: {self.plan.failure_message}",
                        "retryable": True,
                        "timestamp": int(now * 1000),
                    }
                ],
                "partialSuccess": False,
            }
        return {
            "job": {
                "id": self.job_id,
                "configType": self.job_type,
                "configId": self.connection_id,
                "status": status,
                "createdAt": int(self.created_at),
                "updatedAt": int(now),
            },
            "attempts": [{"attempt": attempt, "logs": {"logLines": []}}],
        }


def iso_time(seconds: float) -> str:
    import datetime as _dt

    moment = _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"PT{hours}H{minutes}M{secs}S"


@dataclass
class FakeAirbyteState:
    clock: ScaledClock = field(default_factory=ScaledClock)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: dict[str, FakeConnection] = field(default_factory=dict)
    jobs: dict[int, FakeJob] = field(default_factory=dict)
    default_plan: JobPlan = field(default_factory=JobPlan)
    plans: dict[str, JobPlan] = field(default_factory=dict)
    # Job id -> simulated time at which GET /jobs/{id} first answered its terminal status: when a
    # poller noticed the end, measured on the server's side, whoever the client (benchmarks).
    first_terminal_read: dict[int, float] = field(default_factory=dict)
    # Job id -> simulated time of its latest GET /jobs/{id}; with the above, the interval between
    # the last poll that saw the job active and the first that saw it ended.
    last_read: dict[int, float] = field(default_factory=dict)
    end_read_interval: dict[int, float] = field(default_factory=dict)
    _next_job_id: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # --- building a workspace -------------------------------------------------------------
    def add_workspace(self, name: str = "Default Workspace", workspace_id: str | None = None) -> str:
        with self.lock:
            workspace_id = workspace_id or stable_id("workspace", name)
            self.workspaces[workspace_id] = {
                "workspaceId": workspace_id,
                "name": name,
                "dataResidency": "auto",
            }
            return workspace_id

    def add_source(self, workspace_id: str, name: str, source_type: str = "stripe") -> str:
        with self.lock:
            source_id = stable_id("source", f"{workspace_id}/{name}")
            self.sources[source_id] = {
                "sourceId": source_id,
                "name": name,
                "sourceType": source_type,
                "workspaceId": workspace_id,
                "configuration": {},
            }
            return source_id

    def add_destination(
        self,
        workspace_id: str,
        name: str,
        destination_type: str = "postgres",
        database: str | None = "analytics",
        schema: str | None = "public",
    ) -> str:
        with self.lock:
            destination_id = stable_id("destination", f"{workspace_id}/{name}")
            configuration = {k: v for k, v in (("database", database), ("schema", schema)) if v}
            self.destinations[destination_id] = {
                "destinationId": destination_id,
                "name": name,
                "destinationType": destination_type,
                "workspaceId": workspace_id,
                "configuration": configuration,
            }
            return destination_id

    def add_connection(
        self,
        workspace_id: str,
        name: str,
        streams: Iterable[StreamConf | str],
        *,
        destination_id: str | None = None,
        source_id: str | None = None,
        connection_id: str | None = None,
        prefix: str | None = None,
    ) -> str:
        with self.lock:
            connection_id = connection_id or stable_id(
                "connection", f"{workspace_id}/{name}/{len(self.connections)}"
            )
            destination_id = destination_id or self.add_destination(workspace_id, "Default destination")
            source_id = source_id or self.add_source(workspace_id, f"source of {name}")
            self.connections[connection_id] = FakeConnection(
                connection_id=connection_id,
                name=name,
                workspace_id=workspace_id,
                source_id=source_id,
                destination_id=destination_id,
                streams=[s if isinstance(s, StreamConf) else StreamConf(s) for s in streams],
                prefix=prefix,
            )
            return connection_id

    def seed(
        self,
        connections: int,
        streams_per_connection: int,
        destinations: int = 10,
        workspace: str = "Bench",
        unique_stream_names: bool = False,
    ) -> str:
        """A workspace of `connections` connections with `streams_per_connection` streams each.

        `unique_stream_names`: `c12_stream_3` rather than `stream_3`, for clients (dagster-airbyte's
        default translator) whose keys are the bare table name and would collide otherwise.
        """
        workspace_id = self.add_workspace(workspace)
        destination_ids = [
            self.add_destination(workspace_id, f"destination {d}", ("postgres", "s3", "snowflake")[d % 3])
            for d in range(max(destinations, 1))
        ]
        source_id = self.add_source(workspace_id, "shared source")
        for c in range(connections):
            self.add_connection(
                workspace_id,
                f"Source {c} → Destination {c % len(destination_ids)}",
                [
                    StreamConf(
                        f"c{c}_stream_{s}" if unique_stream_names else f"stream_{s}",
                        cursor_field=("updated_at",),
                    )
                    for s in range(streams_per_connection)
                ],
                destination_id=destination_ids[c % len(destination_ids)],
                source_id=source_id,
                connection_id=stable_id("connection", f"{workspace}/{c}"),
            )
        return workspace_id

    def rename_connection(self, connection_id: str, name: str) -> None:
        with self.lock:
            self.connections[connection_id].name = name

    # --- jobs ------------------------------------------------------------------------------
    def set_plan(self, connection_id: str | None, plan: JobPlan) -> None:
        """The plan of the next jobs of one connection (or of every connection when None)."""
        with self.lock:
            if connection_id is None:
                self.default_plan = plan
            else:
                self.plans[connection_id] = plan

    def plan_for(self, connection_id: str) -> JobPlan:
        return self.plans.get(connection_id, self.default_plan)

    def add_history(
        self, connection_id: str, durations: Sequence[float], outcome: Outcome = "succeeded"
    ) -> None:
        """Completed jobs in the past (oldest first), as a connection's job history."""
        with self.lock:
            now = self.clock.now()
            start = now - sum(d + 3600 for d in durations)
            for duration in durations:
                job = self._new_job(
                    connection_id,
                    "sync",
                    replace(
                        self.plan_for(connection_id),
                        duration_seconds=duration,
                        pending_seconds=0,
                        outcome=outcome,
                    ),
                    start,
                )
                start = job.natural_end + 3600

    def _new_job(self, connection_id: str, job_type: str, plan: JobPlan, created_at: float) -> FakeJob:
        connection = self.connections[connection_id]
        job = FakeJob(
            job_id=self._next_job_id,
            connection_id=connection_id,
            job_type=job_type,
            created_at=created_at,
            plan=plan,
            streams=tuple(connection.streams),
        )
        self._next_job_id += 1
        self.jobs[job.job_id] = job
        return job

    def active_job(self, connection_id: str) -> FakeJob | None:
        now = self.clock.now()
        with self.lock:
            for job in self.jobs.values():
                if job.connection_id == connection_id and job.status(now) in ACTIVE_STATUSES:
                    return job
        return None

    def trigger(self, connection_id: str, job_type: str) -> FakeJob:
        with self.lock:
            connection = self.connections.get(connection_id)
            if connection is None or connection.deleted:
                raise NotFound(f"Could not find connection with id: {connection_id}")
            active = self.active_job(connection_id)
            if active is not None:
                raise Conflict(
                    f"A sync is already running for: {connection_id} (job {active.job_id}, {active.job_type})"
                )
            plan = self.plan_for(connection_id)
            if job_type != "sync":
                plan = replace(plan, duration_seconds=min(plan.duration_seconds, 1.0), outcome="succeeded")
            return self._new_job(connection_id, job_type, plan, self.clock.now())

    def cancel(self, job_id: int) -> FakeJob:
        with self.lock:
            job = self.job(job_id)
            now = self.clock.now()
            if job.status(now) in ACTIVE_STATUSES:
                job.cancelled_at = now
            return job

    def job(self, job_id: int) -> FakeJob:
        with self.lock:
            try:
                return self.jobs[job_id]
            except KeyError:
                raise NotFound(f"Could not find job with id: {job_id}") from None

    def jobs_of(self, connection_id: str, job_type: str | None = "sync") -> list[FakeJob]:
        """Jobs created for a connection (tests assert 'exactly one job per sync' with this)."""
        with self.lock:
            return [
                j
                for j in self.jobs.values()
                if j.connection_id == connection_id and (job_type is None or j.job_type == job_type)
            ]
