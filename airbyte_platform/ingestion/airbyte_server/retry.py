"""Retries of Airbyte requests: urllib3's `Retry`, mounted on the client's requests session.

From the library: the retry loop and its counting, exponential backoff (`backoff_factor` x
2^(n-1) seconds from the second retry on, the first one at once, capped at `backoff_max`, plus up
to `backoff_jitter` of random so clients that failed together do not retry together),
Retry-After (delta-seconds or an HTTP date, capped at `retry_after_max`), and which failures are
connection or read errors.

Ours, through `Retry`'s public methods:
- which calls are safe to repeat (`increment`): every GET/HEAD/PUT/DELETE/OPTIONS, and the POSTs
  that only read (the token endpoint, the config API's `.../get` and `.../list`). `POST /jobs`
  creates a job: a lost response may still have created it, so it is never repeated here, and
  jobs.py looks for that job before triggering again;
- sleeping through an injected sleeper (`sleep`), so tests record waits instead of waiting;
- reporting each retry (`on_retry`): the client logs it and counts the attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import RequestHistory, Retry

from airbyte_platform.ingestion.airbyte_server.errors import TRANSIENT_STATUSES

IDEMPOTENT_METHODS = Retry.DEFAULT_ALLOWED_METHODS
# POSTs that read: the token endpoint and the config API's RPC-style reads (`jobs/get`, ...).
READ_ONLY_POST_SUFFIXES = ("/applications/token", "/get", "/list")


@dataclass(frozen=True)
class RetrySettings:
    """The retry knobs of Airbyte requests, declared once.

    The `airbyte` resource's config fields (request_max_retries, request_retry_delay,
    retry_max_delay, max_retry_after, request_timeout) take their defaults from here and build one
    of these for its client; the hook and the notification sensor build theirs.
    """

    max_retries: int = 6
    backoff_factor: float = 0.5  # retry n waits backoff_factor x 2^(n-1) s (the first at once)
    max_delay: float = 30.0  # longest backoff between two attempts
    max_retry_after: float = (
        300.0  # a longer Retry-After is capped: waiting an hour in a run is worse than failing
    )
    timeout: float = 30.0  # seconds before one attempt times out


def is_idempotent(method: str, url: str) -> bool:
    """Whether repeating the request cannot do anything twice."""
    method = method.upper()
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and urlsplit(url).path.rstrip("/").endswith(READ_ONLY_POST_SUFFIXES)


OnRetry = Callable[[str, str, str, "AirbyteRetry"], None]  # method, url, cause, the Retry after it


class AirbyteRetry(Retry):
    def __init__(
        self,
        *args: Any,
        sleeper: Callable[[float], None] = time.sleep,
        on_retry: OnRetry | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.sleeper = sleeper
        self.on_retry = on_retry

    @classmethod
    def from_settings(
        cls,
        settings: RetrySettings,
        *,
        sleeper: Callable[[float], None] = time.sleep,
        on_retry: OnRetry | None = None,
    ) -> AirbyteRetry:
        return cls(
            total=settings.max_retries,
            other=0,  # TLS/certificate errors and the like do not heal by themselves
            allowed_methods=IDEMPOTENT_METHODS | {"POST"},  # POSTs are filtered in `increment`
            status_forcelist=TRANSIENT_STATUSES,
            backoff_factor=settings.backoff_factor,
            backoff_max=settings.max_delay,
            backoff_jitter=settings.backoff_factor,
            retry_after_max=settings.max_retry_after,  # type: ignore[arg-type]  # compared as a number
            raise_on_status=False,  # the last answer goes to the client's error mapping
            respect_retry_after_header=True,
            sleeper=sleeper,
            on_retry=on_retry,
        )

    def new(self, **kw: Any) -> AirbyteRetry:
        # Retry.new rebuilds the object at every attempt: carry our two attributes along.
        kw.setdefault("sleeper", self.sleeper)
        kw.setdefault("on_retry", self.on_retry)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> AirbyteRetry:
        if method is not None and url is not None and not is_idempotent(method, url):
            # Not repeated: exhausting a zero budget makes urllib3 hand back the answer (or raise
            # the error) as it would after the last retry.
            return Retry.increment(self.new(total=0), method, url, response, error, _pool, _stacktrace)  # type: ignore[return-value]
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.on_retry is not None:
            cause = f"HTTP {response.status}" if response is not None and error is None else repr(error)
            self.on_retry(method or "?", url or "?", cause, new)
        return new

    def sleep(self, response: Any = None) -> None:
        # Retry.sleep, with the injected sleeper instead of time.sleep.
        wait = self.retry_after(response) if response is not None else None
        if not wait:
            wait = self.get_backoff_time()
        self.sleeper(wait)  # 0 included: a recording sleeper sees every retry

    def retry_after(self, response: Any) -> float | None:
        """The answer's Retry-After in seconds (capped); None when absent or unparsable."""
        if not self.respect_retry_after_header:
            return None
        try:
            return self.get_retry_after(response)
        except InvalidHeader:
            return None  # a malformed header: back off as if there were none

    def backoff_after(self, failures: int, retry_after: float | None = None) -> float:
        """The wait after `failures` consecutive failures of a call the caller repeats itself
        (jobs.py's trigger): the server's Retry-After if it sent one, else urllib3's backoff."""
        if retry_after:
            return min(retry_after, float(self.retry_after_max))
        history = tuple(RequestHistory(None, None, None, None, None) for _ in range(failures))
        return self.new(history=history).get_backoff_time()
