"""What can go wrong talking to Airbyte, split into 'try again' and 'a human must fix something'.

The one error mapping of the one client (client.py): every answer and every transport failure
becomes one of these.

- Transient failures (connection errors, timeouts, 408, 429, 5xx but 501/505) are retried by the
  session's retry policy (retry.py) when the call is safe to repeat; once retries are exhausted
  they raise `AirbyteRetriesExhaustedError`, or its subclass `AirbyteUnreachableError` when no
  Airbyte answered at all (connection refused/reset, DNS, timeout) or only a gateway did
  (502/503/504): what a fallback "Airbyte is down, do something else" catches.
  A call that is not repeated (`POST /jobs` creates a job) raises `AirbyteTransientError`: its
  caller decides (jobs.py looks for the job a lost response may have created).
- Every other error fails at once with a message naming what to check: the credential variables
  on 401/403, the connection id and the variable it came from on 404. Fatal errors are
  `dg.Failure`s with `allow_retries=False`, so a run retry policy does not hammer Airbyte with
  bad credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import requests

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524})
# Answered by a proxy or load balancer that could not reach Airbyte behind it.
GATEWAY_STATUSES = frozenset({502, 503, 504})
UP_CHECK = "Check that Airbyte is up (kubectl get pods -n integration -l app=airbyte)."


class AirbyteTransientError(Exception):
    """A failure worth retrying, raised by a call the client does not repeat by itself.

    `retry_after`: the server's Retry-After in seconds, if it sent one; `unreachable`: no Airbyte
    answer at all (network failure or a gateway status), see `AirbyteUnreachableError`.
    """

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


class AirbyteApiError(dg.Failure):
    """Airbyte answered with an error a retry will not fix."""

    def __init__(self, message: str, *, status: int | None, url: str, allow_retries: bool = False):
        super().__init__(
            description=message,
            metadata={"airbyte/status": status if status is not None else -1, "airbyte/url": url},
            allow_retries=allow_retries,
        )
        self.status = status
        self.url = url


class AirbyteConflictError(AirbyteApiError):
    """409: a job is already running for the connection (handled by attaching to it)."""


class AirbyteNotFoundError(AirbyteApiError):
    pass


class AirbyteRetriesExhaustedError(dg.Failure):
    """Still failing transiently after every retry; the run may be retried later."""

    def __init__(self, message: str, url: str):
        super().__init__(description=message, metadata={"airbyte/url": url}, allow_retries=True)
        self.url = url


class AirbyteUnreachableError(AirbyteRetriesExhaustedError):
    """The Airbyte server could not be reached, through every retry: nothing answered (connection
    refused or reset, DNS failure, timeout) or only a gateway did (502/503/504).

    The one type to catch for "Airbyte is down" (e.g. to fall back to another way of syncing);
    a 500 or 429 from Airbyte itself is an `AirbyteRetriesExhaustedError` but not this.
    """


def is_transient_exception(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # certificate problems do not heal by themselves
    return isinstance(
        exc,
        requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
    )


def exhausted_error(
    method: str, url: str, cause: str, *, attempts: int, unreachable: bool
) -> AirbyteRetriesExhaustedError:
    """The error once a transient failure survived every retry."""
    error = AirbyteUnreachableError if unreachable else AirbyteRetriesExhaustedError
    return error(
        f"Airbyte still failing after {attempts} attempts on {method} {url}: {cause}. {UP_CHECK}", url
    )


def transport_error(
    method: str, url: str, exc: requests.RequestException, *, retried: bool, attempts: int
) -> Exception:
    """The error for a request that got no HTTP answer."""
    cause = f"{type(exc).__name__}: {exc}"
    if not is_transient_exception(exc):
        return AirbyteApiError(f"{method} {url} failed: {cause}", status=None, url=url)
    if retried:
        return exhausted_error(method, url, cause, attempts=attempts, unreachable=True)
    return AirbyteTransientError(cause, unreachable=True)


def response_error(
    response: requests.Response,
    method: str,
    url: str,
    *,
    retried: bool,
    attempts: int,
    retry_after: float | None,
    credential_hint: str,
    not_found_hint: str | None,
) -> Exception | None:
    """The error an answer stands for (None for a success)."""
    status = response.status_code
    if status < 400:
        return None
    if status in TRANSIENT_STATUSES:
        unreachable = status in GATEWAY_STATUSES
        if retried:
            return exhausted_error(method, url, f"HTTP {status}", attempts=attempts, unreachable=unreachable)
        return AirbyteTransientError(f"HTTP {status}", retry_after=retry_after, unreachable=unreachable)
    return api_error(
        status,
        method,
        url,
        response_detail(response),
        credential_hint=credential_hint,
        not_found_hint=not_found_hint,
    )


def json_body(response: requests.Response, method: str, url: str) -> Any:
    """A successful answer's JSON ({} when empty); a clear error when it is not JSON."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise AirbyteApiError(
            f"{method} {url} answered {response.status_code} with a body that is not JSON "
            f"({response.headers.get('Content-Type', 'no content type')}): check that the URL points "
            "at the Airbyte API (self-managed: <AIRBYTE_API_URL>/api/public/v1).",
            status=response.status_code,
            url=url,
        ) from None


def response_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body.get("title") or body)[:300]
    return str(body)[:300]


def api_error(
    status: int, method: str, url: str, detail: str, *, credential_hint: str, not_found_hint: str | None
) -> AirbyteApiError:
    """The error for a non-transient status, with what to check in its message."""
    where = f"{method} {url}"
    if status == 401:
        return AirbyteApiError(
            f"Airbyte rejected the credentials (401) on {where}: check {credential_hint}. {detail}".strip(),
            status=status,
            url=url,
        )
    if status == 403:
        return AirbyteApiError(
            f"Airbyte refused access (403) on {where}: the account in {credential_hint} lacks permission "
            f"on this workspace or connection. {detail}".strip(),
            status=status,
            url=url,
        )
    if status == 404:
        hint = f": check {not_found_hint}" if not_found_hint else ""
        return AirbyteNotFoundError(
            f"Airbyte has no such resource (404) on {where}{hint}. {detail}".strip(), status=status, url=url
        )
    if status == 409:
        return AirbyteConflictError(f"Conflict (409) on {where}: {detail}", status=status, url=url)
    return AirbyteApiError(f"Airbyte answered {status} on {where}: {detail}", status=status, url=url)


MAX_REASON_CHARS = 1000


@dataclass(frozen=True)
class JobFailureReason:
    """Why Airbyte says a job failed: the first failure of its last attempt (what its UI shows)."""

    message: str
    origin: str | None = None  # source, destination, replication, normalization, platform, ...
    failure_type: str | None = None  # config_error, system_error, transient_error, ...

    @property
    def summary(self) -> str:
        where = ", ".join(part for part in (self.origin, self.failure_type) if part)
        return f"{self.message} ({where})" if where else self.message


def job_failure_reason(job_info: Mapping[str, Any]) -> JobFailureReason | None:
    """The failure reason in a config API `jobs/get` answer (`attempts[].attempt.failureSummary`)."""
    for entry in reversed(job_info.get("attempts") or []):
        attempt = (entry.get("attempt") or entry) if isinstance(entry, Mapping) else {}
        failures = (attempt.get("failureSummary") or {}).get("failures") or []
        for failure in failures:
            message = failure.get("externalMessage") or failure.get("internalMessage")
            if isinstance(message, str) and message.strip():
                return JobFailureReason(
                    message=message.strip()[:MAX_REASON_CHARS],
                    origin=failure.get("failureOrigin"),
                    failure_type=failure.get("failureType"),
                )
    return None
