"""The one Airbyte HTTP client: dagster-airbyte's `AirbyteClient` on one resilient transport.

Used by syncs and resets (jobs.py, through the `airbyte` resource), discovery, the notification
sensor (events/airbyte_jobs.py) and the Airflow hook. Extended rather than forked: its
configuration (URLs, basic auth or client credentials), its paged listing and its calls are kept.
What it adds, each in one place:

- the transport: one pooled `requests.Session` per retry budget, with urllib3's `Retry` mounted
  (retry.py): transient failures of calls that are safe to repeat are retried with backoff and
  Retry-After; `POST /jobs` is sent once, and jobs.py decides (it adopts a job that a lost
  response created instead of starting a second one);
- the token (tokens.py): the client-credentials token is fetched once and reused until it is due
  to expire; a 401 on it drops it and the request is sent once more with a fresh one;
- the error mapping (errors.py): the 4xx messages name the variables or connection to fix;
- calls the library does not have: workspace resolution, destination listing, the recent jobs of
  a connection in one page, per-stream stats, a failed job's reason.

dagster-airbyte (0.29) has no public extension point for its transport (`make_request` exists
only on its deprecated legacy resources): the calls of `AirbyteClient` (paged listings,
`get_job_details`, `start_sync_job`, ...) all go through the private `_single_request`, which is
overridden here, and only here, to route them through `request`. Its token handling needs no
private override: the public `authorization_request_headers` property is replaced, and its
`_access_token_value` is left unused.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Self

import requests
from dagster_airbyte.resources import AirbyteClient
from pydantic import Field, PrivateAttr, model_validator
from requests.adapters import HTTPAdapter

from airbyte_platform.ingestion.airbyte_server.errors import (
    AirbyteApiError,
    AirbyteRetriesExhaustedError,
    JobFailureReason,
    job_failure_reason,
    json_body,
    response_error,
    transport_error,
)
from airbyte_platform.ingestion.airbyte_server.polling import Clock, SystemClock
from airbyte_platform.ingestion.airbyte_server.retry import (
    AirbyteRetry,
    OnRetry,
    RetrySettings,
    is_idempotent,
)
from airbyte_platform.ingestion.airbyte_server.tokens import TokenCache

USER_AGENT = "airbyte_platform (dagster-airbyte)"
# The public API's largest page (`limit` maximum of every listing in public-api.openapi.yaml): a
# bigger page is answered 400, a smaller one costs more calls at load time.
PUBLIC_API_MAX_PAGE = 100


@dataclass
class _Route:
    session: requests.Session
    retry: AirbyteRetry


class _Transport:
    """What a client and its `with_retries` copies share: sessions, the token, the call count."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.routes: dict[tuple[int, float, float, float], _Route] = {}
        self.tokens: TokenCache | None = None
        self.calls = 0
        self.attempt = threading.local()  # retries of the request in flight, per thread


class ResilientAirbyteClient(AirbyteClient):
    # Optional here: self-managed servers with one workspace need no AIRBYTE_WORKSPACE_ID.
    workspace_id: str | None = Field(default=None, description="The Airbyte workspace id, if known.")
    retry: RetrySettings = Field(
        default_factory=RetrySettings, description="Retries, backoff and timeout of every request."
    )
    credential_hint: str = Field(
        default="the Airbyte credentials", description="Names of the credential variables, for errors."
    )
    clock: Any = Field(
        default=None,
        description="`now()`/`sleep()` (polling.Clock) for token expiry and retry waits; the system "
        "clock when None. Tests inject one to record waits instead of waiting.",
    )

    _transport: _Transport = PrivateAttr(default_factory=_Transport)

    @model_validator(mode="before")
    @classmethod
    def _mirror_retry_settings(cls, values: Any) -> Any:
        """AirbyteClient requires its three retry fields: they mirror `retry`, the one declaration.
        Given without `retry` (the library's way), they build it."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        retry = values.get("retry")
        if isinstance(retry, Mapping):
            retry = values["retry"] = RetrySettings(**retry)
        if retry is None:
            default = RetrySettings()
            retry = RetrySettings(
                max_retries=values.get("request_max_retries", default.max_retries),
                backoff_factor=values.get("request_retry_delay", default.backoff_factor),
                timeout=values.get("request_timeout", default.timeout),
            )
            values["retry"] = retry
        values["request_max_retries"] = retry.max_retries
        values["request_retry_delay"] = retry.backoff_factor
        values["request_timeout"] = math.ceil(retry.timeout)
        return values

    @property
    def http_calls(self) -> int:
        """Requests sent by this client and its copies (every attempt counts)."""
        return self._transport.calls

    def with_retries(self, max_retries: int) -> Self:
        """This client with another retry budget, sharing its connections, token and call count."""
        return self.model_copy(
            update={"retry": replace(self.retry, max_retries=max_retries), "request_max_retries": max_retries}
        )

    @property
    def _clock(self) -> Clock:
        return self.clock or SystemClock()

    # --- the one request path ----------------------------------------------------------------
    def _single_request(
        self,
        method: str,
        url: str,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        include_additional_request_headers: bool = True,
    ) -> Mapping[str, Any]:
        # The one private dagster-airbyte method overridden (see the module docstring): every
        # inherited call lands here.
        return self.request(
            method, url, data=data, params=params, authenticate=include_additional_request_headers
        )

    @property
    def authorization_request_headers(self) -> Mapping[str, Any]:
        token = self._bearer_token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    @property
    def user_agent_request_headers(self) -> Mapping[str, Any]:
        return {"User-Agent": USER_AGENT}

    def request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        authenticate: bool = True,
        max_retries: int | None = None,
        timeout: float | None = None,
        not_found_hint: str | None = None,
    ) -> Any:
        """Send a request (retried by the session when safe to repeat); its JSON, or the mapped error."""
        settings = self.retry if max_retries is None else replace(self.retry, max_retries=max_retries)
        route = self._route(settings)
        retried = is_idempotent(method, url)
        for fresh_token in (False, True):
            headers = {"accept": "application/json", **self.user_agent_request_headers}
            token = self._bearer_token() if authenticate else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
            basic = (
                (self.username, self.password) if authenticate and self.username and self.password else None
            )
            self._transport.attempt.retries = 0
            try:
                response = route.session.request(
                    method,
                    url,
                    json=data,
                    params=params,
                    headers=headers,
                    auth=basic,
                    timeout=timeout or settings.timeout,
                )
            except requests.RequestException as exc:
                attempts = self._count_attempts()
                raise transport_error(method, url, exc, retried=retried, attempts=attempts) from exc
            attempts = self._count_attempts()
            if response.status_code == 401 and token and not fresh_token:
                self._tokens().reject(token)  # expired early or revoked: once more with a new one
                continue
            error = response_error(
                response,
                method,
                url,
                retried=retried,
                attempts=attempts,
                retry_after=route.retry.retry_after(response),
                credential_hint=self.credential_hint,
                not_found_hint=not_found_hint,
            )
            if error is not None:
                raise error
            return json_body(response, method, url)
        raise AssertionError("unreachable")  # the loop returns or raises

    def backoff(self, failures: int, retry_after: float | None = None) -> float:
        """The wait before repeating a call the caller repeats itself (jobs.py's trigger)."""
        return self._route(self.retry).retry.backoff_after(failures, retry_after)

    def _route(self, settings: RetrySettings) -> _Route:
        key = (settings.max_retries, settings.backoff_factor, settings.max_delay, settings.max_retry_after)
        transport = self._transport
        with transport.lock:
            route = transport.routes.get(key)
            if route is None:
                retry = AirbyteRetry.from_settings(
                    settings, sleeper=self._clock.sleep, on_retry=self._on_retry(settings.max_retries)
                )
                session = requests.Session()
                adapter = HTTPAdapter(max_retries=retry)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                route = transport.routes[key] = _Route(session, retry)
        return route

    def _on_retry(self, budget: int) -> OnRetry:
        def report(method: str, url: str, cause: str, retry: AirbyteRetry) -> None:
            self._transport.attempt.retries = len(retry.history)
            self._log.warning(
                f"airbyte request transient failure: {method} {url} -> {cause}; "
                f"retry {len(retry.history)}/{budget}"
            )

        return report

    def _count_attempts(self) -> int:
        attempts = 1 + getattr(self._transport.attempt, "retries", 0)
        with self._transport.lock:
            self._transport.calls += attempts
        return attempts

    # --- the token ---------------------------------------------------------------------------
    def _bearer_token(self) -> str | None:
        if not (self.client_id and self.client_secret):
            return None
        return self._tokens().get()

    def _tokens(self) -> TokenCache:
        transport = self._transport
        with transport.lock:
            if transport.tokens is None:
                transport.tokens = TokenCache(self._fetch_token, now=self._clock.now)
            return transport.tokens

    def _fetch_token(self) -> tuple[str, float | None]:
        url = f"{self.rest_api_base_url}/applications/token"
        answer = self.request(
            "POST",
            url,
            data={"client_id": self.client_id, "client_secret": self.client_secret},
            authenticate=False,  # never send the old token to get a new one
        )
        token = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not token:
            raise AirbyteApiError(
                f"Airbyte's token endpoint answered without an access_token: check {self.credential_hint}",
                status=None,
                url=url,
            )
        expires_in = answer.get("expires_in")
        return str(token), float(expires_in) if isinstance(expires_in, int | float) else None

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
        """`POST /jobs`, one attempt: a transient failure raises `AirbyteTransientError`, the
        caller decides (jobs.py)."""
        return self.request(
            "POST",
            f"{self.rest_api_base_url}/jobs",
            data={"connectionId": connection_id, "jobType": job_type},
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
