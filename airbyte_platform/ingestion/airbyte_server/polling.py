"""When to look at a running Airbyte job again.

A fixed interval is either slow for short jobs or wasteful for long ones (the Airflow hook polled
every 60 s: 720 polls for a 12-hour sync; dagster-airbyte every 10 s: 4,320). Here:

- A young job is polled every `min_interval` (0.5 s), so a short sync is noticed within a second.
- After that the interval grows with the job's age (`growth` x elapsed) up to `max_interval`
  (55 s): completion is noticed within 10 % of the run time and never later than a minute.
  Intervals run from one poll's start to the next (jobs.py), so a request's own time does not
  stretch them, but the request that sees the end and a busy host's late wake-ups still add to
  the delay: 55 s rather than 60 s leaves them 5 s.
- When the connection's history says how long its syncs take (median of its last successful
  ones), the time before 95 % of that expected duration is polled sparsely (interval up to
  `far_interval`, landing exactly on the 95 % mark), then at `max_interval` again. A 12-hour sync
  that takes as long as usual costs ~110 polls and is still noticed within a minute; one that ends
  much earlier than its history is noticed within `far_interval`.

Without history, a minute-granularity guarantee over 12 hours needs ~790 polls; ~200 polls and a
60 s guarantee cannot both hold for a job of unknown length (43,200 s / 200 = 216 s per poll).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

_ISO_DURATION = re.compile(
    r"P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class PollSchedule:
    min_interval: float = 0.5
    growth: float = 0.1
    max_interval: float = 55.0  # + the request's own time: noticed within 60 s
    far_interval: float = 900.0
    far_growth: float = 0.25
    near_fraction: float = 0.95
    # History shorter than this is not worth planning around.
    min_expected_seconds: float = 600.0

    def next_delay(self, elapsed: float, expected: float | None = None) -> float:
        """Seconds to wait before the next poll of a job that has run `elapsed` seconds."""
        elapsed = max(elapsed, 0.0)
        near = min(self.max_interval, max(self.min_interval, elapsed * self.growth))
        if expected is None or expected < self.min_expected_seconds:
            return near
        near_start = expected * self.near_fraction
        if elapsed >= near_start:
            return near
        far = min(self.far_interval, max(self.min_interval, elapsed * self.far_growth))
        return max(self.min_interval, min(max(far, near), near_start - elapsed))


def parse_iso_duration(value: str | None) -> float | None:
    """`PT12H3M4S` -> 43384.0 seconds (None when absent or unparsable)."""
    if not value:
        return None
    match = _ISO_DURATION.fullmatch(value.strip())
    if not match or not any(match.groupdict().values()):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("days", 0.0) * 86400
        + parts.get("hours", 0.0) * 3600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )


def expected_duration(
    jobs: Iterable[Mapping[str, Any]], job_type: str = "sync", sample: int = 5
) -> float | None:
    """Median duration of the newest successful jobs of `job_type` (None without history)."""
    durations = [
        seconds
        for job in jobs
        if job.get("status") == "succeeded" and job.get("jobType", job_type) == job_type
        if (seconds := parse_iso_duration(job.get("duration"))) is not None
    ][:sample]
    return statistics.median(durations) if durations else None
