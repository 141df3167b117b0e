"""`AirbyteHook` as the seeds' Airflow code used it, on the project's one Airbyte client.

    hook = AirbyteHook(api_url=..., username=..., password=..., max_retries=5)
    job_info = hook.trigger_sync(connection_id=..., retry_on_failure=True)
    hook.wait_for_job_completion(job_id=job_info.get("jobId"), timeout_minutes=720, check_interval=60)
    hook.get_connection_info(connection_id), hook.list_connections()

Underneath: `ResilientAirbyteClient`, the project's one Airbyte client (transient-only retries of
repeatable calls, one pooled session, one token cache), and
`AirbyteJobRunner` (attach to a running job instead of starting a second, no blind re-POST of
/jobs, adaptive polling, cancel on timeout). Jobs and connections are the public API's JSON
(`jobId`, `status`, `rowsSynced`, ...), as the seeds' `job_info.get("jobId")` expects.
`AirbyteHook.from_settings()` builds it from AIRBYTE_API_URL and the credential variables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airbyte_platform.ingestion.airbyte_server.client import ResilientAirbyteClient
from airbyte_platform.ingestion.airbyte_server.endpoints import airbyte_endpoints, endpoints_for
from airbyte_platform.ingestion.airbyte_server.jobs import AirbyteJobRunner
from airbyte_platform.ingestion.airbyte_server.polling import Clock, PollSchedule
from airbyte_platform.ingestion.airbyte_server.retry import RetrySettings
from airbyte_platform.settings import Settings, get_settings

_log = logging.getLogger(__name__)
Job = Mapping[str, Any]


def check_schedule(check_interval: float) -> PollSchedule:
    """Poll adaptively, but never less often than `check_interval` (the seeds' guarantee)."""
    ceiling = max(float(check_interval), 0.05)
    return PollSchedule(min_interval=min(0.5, ceiling), max_interval=ceiling, far_interval=ceiling)


class AirbyteHook:
    def __init__(
        self,
        api_url: str,
        username: str | None = None,
        password: str | None = None,
        max_retries: int = 3,
        *,
        workspace_id: str | None = None,
        client: ResilientAirbyteClient | None = None,
        retry_delay: float = 0.5,
        clock: Clock | None = None,
        log: logging.Logger | None = None,
    ):
        """`api_url`: the Airbyte server root (http://airbyte-server:8000), as AIRBYTE_API_URL."""
        self.api_url = api_url.rstrip("/")
        self.max_retries = max_retries
        if client is None:
            endpoints = airbyte_endpoints(api_url)
            client = ResilientAirbyteClient(
                rest_api_base_url=endpoints.rest_api_base_url,
                configuration_api_base_url=endpoints.configuration_api_base_url,
                workspace_id=workspace_id,
                username=username,
                password=password,
                retry=RetrySettings(max_retries=max_retries, backoff_factor=retry_delay),
                credential_hint="AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD",
            )
        self.client = client
        self.clock = clock
        self.log = log or _log

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, max_retries: int = 3, **kwargs: Any
    ) -> AirbyteHook:
        """The hook of this deployment: AIRBYTE_API_URL (or Cloud) and credentials through dg.EnvVar."""
        settings = settings or get_settings()
        if settings.airbyte is None:
            raise ValueError("no Airbyte settings: set AIRBYTE_API_URL and the Airbyte credentials")
        airbyte = settings.airbyte
        # The deployment's own client (URLs, credentials, hints), with the hook's retry count.
        from airbyte_platform.ingestion.airbyte_server.defs import build_workspace

        client = build_workspace(settings, resolve_secrets=True).get_client().with_retries(max_retries)
        endpoints = endpoints_for(airbyte)
        return cls(
            airbyte.api_url or endpoints.rest_api_base_url, max_retries=max_retries, client=client, **kwargs
        )

    def _runner(self, timeout_minutes: float | None = None, check_interval: float = 30) -> AirbyteJobRunner:
        return AirbyteJobRunner(
            self.client,
            log=self.log,
            schedule=check_schedule(check_interval),
            clock=self.clock,
            poll_timeout=None if timeout_minutes is None else timeout_minutes * 60,
        )

    def trigger_sync(self, connection_id: str, retry_on_failure: bool = True) -> dict[str, Any]:
        """Start a sync (or attach to the one already running) and return its job (`jobId`, `status`).

        `retry_on_failure=True` retries a trigger that failed transiently, after checking that the
        lost attempt did not create the job; False makes exactly one attempt.
        """
        hint = f"connection {connection_id}"
        if not retry_on_failure:
            return dict(self.client.trigger_job(connection_id, "sync", not_found_hint=hint))
        job, _attached, _expected = self._runner().start_or_attach(connection_id, "sync", hint)
        return dict(job)

    def wait_for_job_completion(
        self, job_id: int | str, timeout_minutes: float = 60, check_interval: float = 30
    ) -> dict[str, Any]:
        """Wait until the job ends; return it when it succeeded.

        Raises `AirbyteJobFailedError` when it failed or was cancelled, `AirbyteJobTimeoutError`
        (after cancelling it) when it is still running after `timeout_minutes`.
        """
        job = self.client.get_job(int(job_id))
        finished = self._runner(timeout_minutes, check_interval).wait(job)
        return dict(finished.job)

    def get_job_info(self, job_id: int | str) -> dict[str, Any]:
        return dict(self.client.get_job(int(job_id)))

    def cancel_job(self, job_id: int | str) -> dict[str, Any]:
        return dict(self.client.cancel_job(int(job_id)))

    def get_connection_info(self, connection_id: str) -> dict[str, Any]:
        """The connection as the public API describes it (name, status, streams, schedule)."""
        return dict(self.client.get_connection(connection_id, not_found_hint=f"connection {connection_id}"))

    def list_connections(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """Every connection of the workspace (AIRBYTE_WORKSPACE_ID, or the only one visible)."""
        workspace = workspace_id or self.client.resolve_workspace_id()
        connections: Sequence[Mapping[str, Any]] = self.client.list_connections(workspace)
        return [dict(c) for c in connections]
