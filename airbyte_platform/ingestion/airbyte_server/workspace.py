"""The prod `airbyte` resource: dagster-airbyte's `AirbyteWorkspace`, extended.

Kept from the library: its configuration surface (URLs, basic auth or client credentials, retry and
poll settings), its EnvVar handling and its client (extended in client.py: the project's one
Airbyte client, which this resource hands to syncs, resets and discovery). Cloud is the same class
with Cloud URLs: `AirbyteCloudWorkspace` hard-codes them as class variables, so it could not be
pointed at a regional endpoint or the local test server.

Added, and why:
- `workspace_id` is optional: a self-managed server with one workspace needs no id.
- `sync_connection` replaces `sync_and_poll`: it attaches to a running job instead of failing,
  never creates two jobs for one sync, polls adaptively, cancels on termination or timeout (not on
  a brief API outage), checks the connection id first (404 names its variable) and reports job id,
  link, duration, and per-stream rows/bytes plus the min-records checks of declared streams.
- `fetch_snapshot`: discovery in N/100 listing calls instead of 2N detail calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import dagster as dg
from dagster._utils.cached_method import cached_method
from dagster_airbyte import AirbyteWorkspace
from pydantic import Field

from airbyte_platform.ingestion.airbyte_server.client import ResilientAirbyteClient
from airbyte_platform.ingestion.airbyte_server.discovery import fetch_snapshot
from airbyte_platform.ingestion.airbyte_server.endpoints import job_url
from airbyte_platform.ingestion.airbyte_server.jobs import AirbyteJobRunner, FinishedJob
from airbyte_platform.ingestion.airbyte_server.materialize import SyncReport, sync_events
from airbyte_platform.ingestion.airbyte_server.polling import Clock, PollSchedule
from airbyte_platform.ingestion.airbyte_server.retry import RetrySettings
from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot
from airbyte_platform.ingestion.sync_assets import SyncEvent
from airbyte_platform.ingestion.sync_target import REFRESH_COMMAND, SyncTarget
from airbyte_platform.settings import JobLimits, parse_job_limits

DAY = 24 * 3600.0
RETRY_DEFAULTS = RetrySettings()


class AirbyteStreamsMissingError(dg.Failure):
    """Selected streams are not enabled in the Airbyte connection: nothing was triggered."""


class AirbyteServerWorkspace(AirbyteWorkspace):
    """A self-managed Airbyte server or Airbyte Cloud, synced robustly (see the module docstring)."""

    workspace_id: str | None = Field(  # type: ignore[assignment]
        default=None, description="Airbyte workspace id; resolved when the credentials see exactly one."
    )
    webapp_url: str = Field(description="Browser URL of the Airbyte UI, for links to jobs.")
    credential_hint: str = Field(
        default="the Airbyte credentials", description="Names of the credential variables, for errors."
    )
    # The retry knobs (retry.py's RetrySettings, their one declaration), as resource config.
    request_max_retries: int = Field(
        default=RETRY_DEFAULTS.max_retries,
        description="Retries of a transient failure of a repeatable request.",
    )
    request_retry_delay: float = Field(
        default=RETRY_DEFAULTS.backoff_factor,
        description="Backoff factor: retry n waits this x 2^(n-1) s (the first at once), plus jitter.",
    )
    request_timeout: int = Field(
        default=int(RETRY_DEFAULTS.timeout), description="Seconds before one request times out."
    )
    retry_max_delay: float = Field(
        default=RETRY_DEFAULTS.max_delay, description="Longest backoff between two retries."
    )
    max_retry_after: float = Field(
        default=RETRY_DEFAULTS.max_retry_after, description="Longest Retry-After honored."
    )
    poll_interval: float = Field(default=0.5, description="Shortest interval between polls of a job.")
    poll_max_interval: float = Field(
        default=55.0,
        description="Longest interval once a job may be finishing (bounds the detection delay: "
        "55 s plus the request itself stays within a minute).",
    )
    poll_far_interval: float = Field(
        default=900.0, description="Longest interval while history says the job is far from finishing."
    )
    poll_timeout: float | None = Field(
        default=DAY, description="Stop waiting (and cancel the job) after this many seconds."
    )
    pending_timeout: float | None = Field(
        default=1800.0,
        description="Cancel and fail a job still pending (no Airbyte worker took it) after this many seconds "
        "(AIRBYTE_PENDING_TIMEOUT_MINUTES).",
    )
    job_limits: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per connection name (undeclared connections): timeout_minutes, check_interval, "
        "max_retries, pending_timeout_minutes (AIRBYTE_JOB_LIMITS).",
    )
    poll_outage_tolerance: float = Field(
        default=900.0, description="Keep waiting through API failures for this long before failing."
    )
    poll_previous_running_sync: bool = Field(
        default=True, description="Always on here: a running job is attached to, never failed on."
    )
    per_stream_stats: bool = Field(
        default=True, description="Read per-stream rows/bytes from the config API (jobs/get) after a sync."
    )

    @cached_method
    def get_client(self) -> ResilientAirbyteClient:  # type: ignore[override]
        return ResilientAirbyteClient(
            rest_api_base_url=self.rest_api_base_url,
            configuration_api_base_url=self.configuration_api_base_url,
            workspace_id=self.workspace_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            username=self.username,
            password=self.password,
            retry=self.retry_settings,
            max_items_per_page=self.max_items_per_page,
            poll_interval=self.poll_interval,
            poll_timeout=self.poll_timeout,
            cancel_on_termination=self.cancel_on_termination,
            poll_previous_running_sync=True,
            credential_hint=self.credential_hint,
        )

    @property
    def retry_settings(self) -> RetrySettings:
        return RetrySettings(
            max_retries=self.request_max_retries,
            backoff_factor=self.request_retry_delay,
            max_delay=self.retry_max_delay,
            max_retry_after=self.max_retry_after,
            timeout=self.request_timeout,
        )

    @property
    def poll_schedule(self) -> PollSchedule:
        return PollSchedule(
            min_interval=self.poll_interval,
            max_interval=self.poll_max_interval,
            far_interval=self.poll_far_interval,
        )

    def job_runner(
        self,
        log: dg.DagsterLogManager | None = None,
        workspace_id: str | None = None,
        connection_id: str = "",
        clock: Clock | None = None,
        connection_name: str | None = None,
    ) -> AirbyteJobRunner:
        return AirbyteJobRunner(
            self.get_client(),
            log=log or dg.get_dagster_logger(),
            schedule=self.poll_schedule,
            clock=clock,
            poll_timeout=self.poll_timeout,
            outage_tolerance=self.poll_outage_tolerance,
            cancel_on_termination=self.cancel_on_termination,
            job_url=lambda job_id: job_url(self.webapp_url, workspace_id, connection_id, job_id),
            connection_name=connection_name,
            pending_timeout=self.pending_timeout,
        )

    def limits_for(self, target: SyncTarget) -> JobLimits:
        if target.declared is not None:
            return target.declared.job_limits
        return parse_job_limits(self.job_limits.get(target.name), f"AIRBYTE_JOB_LIMITS[{target.name!r}]")

    def job_runner_for(
        self, target: SyncTarget, log: dg.DagsterLogManager | None, workspace_id: str | None
    ) -> AirbyteJobRunner:
        """The runner of `target`'s jobs, with its connection's limits over the workspace's defaults."""
        runner = self.job_runner(log, workspace_id, target.connection_id, connection_name=target.name)
        limits = self.limits_for(target)
        if limits.timeout_minutes is not None:
            runner.poll_timeout = limits.timeout_minutes * 60
        if limits.pending_timeout_minutes is not None:
            runner.pending_timeout = limits.pending_timeout_minutes * 60
        if limits.check_interval is not None:
            runner.schedule = dataclasses.replace(
                runner.schedule,
                max_interval=limits.check_interval,
                far_interval=max(runner.schedule.far_interval, limits.check_interval),
                min_interval=min(runner.schedule.min_interval, limits.check_interval),
            )
        if limits.max_retries is not None:
            runner.client = self.get_client().with_retries(limits.max_retries)
        return runner

    # --- discovery -----------------------------------------------------------------------------
    def fetch_snapshot(
        self, previous: WorkspaceSnapshot | None = None, reserved_parts: Iterable[str] = ()
    ) -> WorkspaceSnapshot:
        return fetch_snapshot(self.get_client(), previous=previous, reserved_parts=reserved_parts)

    # --- syncing -------------------------------------------------------------------------------
    def sync_connection(self, context: dg.AssetExecutionContext, target: SyncTarget) -> Iterator[SyncEvent]:
        """Sync `target`'s connection and report the selected streams (see the module docstring)."""
        selected_keys = set(context.selected_asset_keys)
        selected = target.streams_for(selected_keys)
        client = self.get_client()
        connection = client.get_connection(target.connection_id, not_found_hint=target.not_found_hint)
        enabled = {str(s["name"]) for s in (connection.get("configurations") or {}).get("streams") or []}
        missing = [stream.name for stream in selected if stream.name not in enabled]
        if missing:
            fix = (
                "enable them in the Airbyte connection or remove them from connections.yaml"
                if target.declared is not None
                else f"refresh the Airbyte workspace state (`{REFRESH_COMMAND}`)"
            )
            raise AirbyteStreamsMissingError(
                description=f"Streams {', '.join(sorted(missing))} are not enabled in Airbyte connection "
                f"{target.name!r} ({target.connection_id}): {fix}. Nothing was synced.",
                allow_retries=False,
            )
        if len(selected) < len(target.streams):
            context.log.info(
                f"{len(selected)} of {len(target.streams)} streams selected; Airbyte's API syncs whole "
                "connections, so the others are synced too and recorded as runtime materializations."
            )
        workspace_id = target.workspace_id or connection.get("workspaceId")
        runner = self.job_runner_for(target, context.log, workspace_id)
        context.log.info(
            f"Syncing Airbyte connection {target.name!r} ({target.connection_id}, from {target.id_source})"
        )
        finished = runner.run(target.connection_id, "sync", not_found_hint=target.not_found_hint)
        yield from sync_events(
            SyncReport(
                target=target,
                finished=finished,
                job_url=runner.job_url(finished.job_id),
                stream_stats=client.get_stream_stats(finished.job_id) if self.per_stream_stats else None,
            ),
            selected_keys,
            set(context.selected_asset_check_keys),
            enabled,
        )

    def clear_connection(
        self, log: dg.DagsterLogManager, target: SyncTarget, job_type: str = "reset"
    ) -> tuple[FinishedJob, str]:
        """Run a reset/clear job for the whole connection; returns it and its link."""
        connection = self.get_client().get_connection(
            target.connection_id, not_found_hint=target.not_found_hint
        )
        runner = self.job_runner(
            log,
            target.workspace_id or connection.get("workspaceId"),
            target.connection_id,
            connection_name=target.name,
        )
        finished = runner.run(target.connection_id, job_type, not_found_hint=target.not_found_hint)
        return finished, runner.job_url(finished.job_id)
