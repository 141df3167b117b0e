"""Exponential backoff with jitter, honoring Retry-After.

dagster-airbyte retries every error (4xx included) after a fixed delay; here only transient
failures are retried, each wait doubles (with "equal jitter": half fixed, half random, so clients
that failed together do not retry together) and a server's Retry-After is a floor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A Retry-After beyond this is capped: waiting an hour inside a run is worse than failing it.
    max_retry_after: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        backoff = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is None:
            return backoff
        return min(max(retry_after, backoff), self.max_retry_after)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
