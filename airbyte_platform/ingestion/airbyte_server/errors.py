"""What can go wrong talking to Airbyte, split into 'try again' and 'a human must fix something'.

Transient failures (connection errors, timeouts, 408, 429, 5xx but 501/505) are retried; every
other error fails at once with a message naming what to check: the credential variables on
401/403, the connection id and the variable it came from on 404. Fatal errors are `dg.Failure`s
with `allow_retries=False`, so a run retry policy does not hammer Airbyte with bad credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import requests

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524})


class AirbyteTransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's Retry-After, in seconds, if it sent one."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


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


def is_transient_exception(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # certificate problems do not heal by themselves
    return isinstance(
        exc,
        requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
    )


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
