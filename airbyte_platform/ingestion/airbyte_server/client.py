"""The HTTP client: dagster-airbyte's `AirbyteClient`, made resilient and given the calls it lacks.

Extended rather than forked: its auth (basic, or client credentials with token refresh), its paged
listing (`_paginated_request`, following `next` links) and its URLs are kept. What changes, and why:

- `_single_request` (which every inherited call goes through) retries only transient failures,
  with exponential backoff + jitter and Retry-After, and fails at once on other 4xx with a message
  naming what to check; the library retries every error, 4xx included, after a fixed delay.
- One pooled `requests.Session` instead of a new session (and TCP connection) per request.
- An expired bearer token (401) is refreshed once instead of failing the request.
- `POST /jobs` is never retried blindly: a lost response may still have created the job (see
  jobs.py, which looks for that job before triggering again).
- Calls the library does not have: workspace resolution, destination listing, recent jobs of a
  connection in one page, per-stream stats.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from dagster_airbyte.resources import AirbyteClient
from pydantic import Field, PrivateAttr

from airbyte_platform.ingestion.airbyte_server.errors import (
    TRANSIENT_STATUSES,
    AirbyteApiError,
    AirbyteRetriesExhaustedError,
    AirbyteTransientError,
    JobFailureReason,
    api_error,
    is_transient_exception,
    job_failure_reason,
)
from airbyte_platform.ingestion.airbyte_server.retry import RetryPolicy, parse_retry_after

USER_AGENT = "airbyte_platform (dagster-airbyte)"
# The public API's largest page (`limit` maximum of every listing in public-api.openapi.yaml): a
# bigger page is answered 400, a smaller one costs more calls at load time.
PUBLIC_API_MAX_PAGE = 100


class _ExpiredTokenError(Exception):
    pass


class ResilientAirbyteClient(AirbyteClient):
    # Optional here: self-managed servers with one workspace need no AIRBYTE_WORKSPACE_ID.
    workspace_id: str | None = Field(default=None, description="The Airbyte workspace id, if known.")
    request_max_retries: int = Field(default=6, description="Retries of a transient failure.")
    request_retry_delay: float = Field(default=0.5, description="First backoff delay (doubles).")
    request_timeout: int = Field(default=30, description="Seconds before a request times out.")
    retry_max_delay: float = Field(default=30.0, description="Longest backoff between retries.")
    max_retry_after: float = Field(default=300.0, description="Longest Retry-After honored.")
    credential_hint: str = Field(
        default="the Airbyte credentials", description="Names of the credential variables, for errors."
    )

    _session: requests.Session | None = PrivateAttr(default=None)
    _retry: RetryPolicy | None = PrivateAttr(default=None)
    _calls: int = PrivateAttr(default=0)

    @property
    def http_calls(self) -> int:
        """Requests sent by this client (every attempt counts)."""
        return self._calls

    @property
    def retry_policy(self) -> RetryPolicy:
        if self._retry is None:
            self._retry = RetryPolicy(
                max_retries=self.request_max_retries,
                base_delay=self.request_retry_delay,
                max_delay=self.retry_max_delay,
                max_retry_after=self.max_retry_after,
            )
        return self._retry

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
        return self._session

    # --- the one request path ----------------------------------------------------------------
    def _single_request(
        self,
        method: str,
        url: str,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        include_additional_request_headers: bool = True,
    ) -> Mapping[str, Any]:
        # Every inherited call (listing pages, token refresh, ...) lands here.
        return self.request(
            method,
            url,
            data=data,
            params=params,
            authenticate=include_additional_request_headers,
            retry_transient=not (method == "POST" and url.rstrip("/").endswith("/jobs")),
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        authenticate: bool = True,
        retry_transient: bool = True,
        max_retries: int | None = None,
        timeout: float | None = None,
        not_found_hint: str | None = None,
    ) -> Any:
        """Send a request; retry transient failures if `retry_transient`, raise on anything else."""
        policy = self.retry_policy
        budget = policy.max_retries if max_retries is None else max_retries
        retry = 0
        token_refreshed = False
        while True:
            try:
                return self._attempt(method, url, data, params, authenticate, timeout, not_found_hint)
            except _ExpiredTokenError:
                if token_refreshed:
                    raise api_error(
                        401,
                        method,
                        url,
                        "a fresh token was rejected too",
                        credential_hint=self.credential_hint,
                        not_found_hint=None,
                    ) from None
                token_refreshed = True
                self._access_token_value = None
            except AirbyteTransientError as exc:
                if not retry_transient:
                    raise
                if retry >= budget:
                    raise AirbyteRetriesExhaustedError(
                        f"Airbyte still failing after {retry + 1} attempts on {method} {url}: {exc}. "
                        "Check that Airbyte is up (kubectl get pods -n integration -l app=airbyte).",
                        url,
                    ) from exc
                wait = policy.delay(retry, exc.retry_after)
                retry += 1
                self._log.warning(
                    f"airbyte request transient failure: {method} {url} -> {exc}; "
                    f"retry {retry}/{budget} in {wait:.2f}s"
                )
                time.sleep(wait)

    def _attempt(
        self,
        method: str,
        url: str,
        data: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        authenticate: bool,
        timeout: float | None,
        not_found_hint: str | None,
    ) -> Any:
        headers = {"accept": "application/json", "User-Agent": USER_AGENT}
        basic_auth = None
        bearer = False
        if authenticate:
            authorization = self.authorization_request_headers  # refreshes the token when due
            headers.update(authorization)
            bearer = bool(authorization)
            if self.username and self.password:
                basic_auth = (self.username, self.password)
        self._calls += 1
        try:
            response = self._http().request(
                method,
                url,
                json=data,
                params=params,
                headers=headers,
                auth=basic_auth,
                timeout=timeout or self.request_timeout,
            )
        except requests.RequestException as exc:
            if is_transient_exception(exc):
                raise AirbyteTransientError(f"{type(exc).__name__}: {exc}") from exc
            raise AirbyteApiError(f"{method} {url} failed: {exc}", status=None, url=url) from exc

        status = response.status_code
        if status in TRANSIENT_STATUSES:
            raise AirbyteTransientError(
                f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After"))
            )
        if status == 401 and bearer:
            raise _ExpiredTokenError()
        if status >= 400:
            raise api_error(
                status,
                method,
                url,
                _detail(response),
                credential_hint=self.credential_hint,
                not_found_hint=not_found_hint,
            )
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise AirbyteApiError(
                f"{method} {url} answered {status} with a body that is not JSON "
                f"({response.headers.get('Content-Type', 'no content type')}): check that the URL points "
                "at the Airbyte API (self-managed: <AIRBYTE_API_URL>/api/public/v1).",
                status=status,
                url=url,
            ) from None

    # --- workspace ---------------------------------------------------------------------------
    @property
    def page_size(self) -> int:
        """Items per listing page: the API's maximum unless configured lower."""
        return max(1, min(self.max_items_per_page, PUBLIC_API_MAX_PAGE))

    def list_workspaces(self) -> Sequence[Mapping[str, Any]]:
        return self._paginated_request(
            method="GET", url=f"{self.rest_api_base_url}/workspaces", params={"limit": self.page_size}
        )

    def resolve_workspace_id(self) -> str:
        """The configured workspace, or the only one the credentials can see."""
        if self.workspace_id:
            return self.workspace_id
        workspaces = self.list_workspaces()
        if len(workspaces) == 1:
            return str(workspaces[0]["workspaceId"])
        listing = ", ".join(f"{w.get('name')!r} ({w['workspaceId']})" for w in workspaces[:10]) or "none"
        raise AirbyteApiError(
            f"AIRBYTE_WORKSPACE_ID is not set and the credentials see {len(workspaces)} workspaces "
            f"({listing}): set AIRBYTE_WORKSPACE_ID to the one to load.",
            status=None,
            url=f"{self.rest_api_base_url}/workspaces",
        )

    def validate_workspace(self, workspace_id: str) -> Mapping[str, Any]:
        return self.request(
            "GET",
            f"{self.rest_api_base_url}/workspaces/{workspace_id}",
            not_found_hint=f"AIRBYTE_WORKSPACE_ID ({workspace_id})",
        )

    def list_connections(self, workspace_id: str) -> Sequence[Mapping[str, Any]]:
        """Every connection with its streams (`configurations.streams`): ceil(N/100) requests."""
        return self._paginated_request(
            method="GET",
            url=f"{self.rest_api_base_url}/connections",
            params={"workspaceIds": workspace_id, "limit": self.page_size},
        )

    def list_destinations(self, workspace_id: str) -> Sequence[Mapping[str, Any]]:
        return self._paginated_request(
            method="GET",
            url=f"{self.rest_api_base_url}/destinations",
            params={"workspaceIds": workspace_id, "limit": self.page_size},
        )

    # --- connections and jobs ------------------------------------------------------------------
    def get_connection(self, connection_id: str, not_found_hint: str | None = None) -> Mapping[str, Any]:
        return self.request(
            "GET", f"{self.rest_api_base_url}/connections/{connection_id}", not_found_hint=not_found_hint
        )

    def list_recent_jobs(self, connection_id: str, limit: int = 10) -> list[Mapping[str, Any]]:
        """The newest jobs of a connection, newest first: one page, not the whole history."""
        response = self.request(
            "GET",
            f"{self.rest_api_base_url}/jobs",
            params={"connectionId": connection_id, "orderBy": "createdAt|DESC", "limit": limit},
        )
        return list(response.get("data", []))

    def trigger_job(
        self, connection_id: str, job_type: str = "sync", not_found_hint: str | None = None
    ) -> Mapping[str, Any]:
        """`POST /jobs`, one attempt: a transient failure is raised, the caller decides (jobs.py)."""
        return self.request(
            "POST",
            f"{self.rest_api_base_url}/jobs",
            data={"connectionId": connection_id, "jobType": job_type},
            retry_transient=False,
            not_found_hint=not_found_hint,
        )

    def start_sync_job(self, connection_id: str) -> Mapping[str, Any]:
        return self.trigger_job(connection_id, "sync")

    def get_job(self, job_id: int) -> Mapping[str, Any]:
        return self.request("GET", f"{self.rest_api_base_url}/jobs/{job_id}")

    def get_job_details(self, job_id: int) -> Mapping[str, Any]:
        return self.get_job(job_id)

    def cancel_job(self, job_id: int, timeout: float = 3.0, max_retries: int = 2) -> Mapping[str, Any]:
        """Cancel quickly (it runs while the Dagster run is being terminated)."""
        return self.request(
            "DELETE",
            f"{self.rest_api_base_url}/jobs/{job_id}",
            timeout=timeout,
            max_retries=max_retries,
        )

    def get_job_info(self, job_id: int, what: str) -> Mapping[str, Any] | None:
        """The config API's `POST /api/v1/jobs/get` (attempts, per-stream stats, failure summary),
        also what the Airbyte UI uses; None when unavailable. Best effort: it is an internal API."""
        try:
            return self.request(
                "POST",
                f"{self.configuration_api_base_url}/jobs/get",
                data={"id": job_id},
                max_retries=2,
            )
        except (AirbyteApiError, AirbyteRetriesExhaustedError) as exc:
            self._log.warning(f"{what} of Airbyte job {job_id} unavailable: {exc}")
            return None

    def get_job_failure(self, job_id: int) -> JobFailureReason | None:
        """Airbyte's reason for a failed job (the public API's job has none)."""
        info = self.get_job_info(job_id, "the failure reason")
        return job_failure_reason(info) if info is not None else None

    def get_stream_stats(
        self, job_id: int
    ) -> dict[tuple[str | None, str], tuple[int | None, int | None]] | None:
        """Per-stream (records, bytes) committed by a job, keyed by (namespace, stream name); None
        when unavailable. The public API reports only job totals; the config API reports each
        stream of the last attempt, with its namespace (one name may exist in several)."""
        info = self.get_job_info(job_id, "per-stream stats")
        attempts = (info or {}).get("attempts") or []
        if not attempts:
            return None
        last = attempts[-1].get("attempt") or attempts[-1]
        stats: dict[tuple[str | None, str], tuple[int | None, int | None]] = {}
        for entry in last.get("streamStats") or []:
            numbers = entry.get("stats") or {}
            stats[(entry.get("streamNamespace") or None, str(entry.get("streamName")))] = (
                numbers.get("recordsCommitted", numbers.get("recordsEmitted")),
                numbers.get("bytesCommitted", numbers.get("bytesEmitted")),
            )
        return stats


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body.get("title") or body)[:300]
    return str(body)[:300]
