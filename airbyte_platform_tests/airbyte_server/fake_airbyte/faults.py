"""Fault injection: which request gets an error status, a dropped connection or extra latency.

A rule matches on method and a regex over the route path (without the API prefix, e.g.
`/jobs/12`), fires with a probability (seeded, so a failing test replays the same faults) and at
most `times` times. Kinds:

- `status`: answer `status` (e.g. 500, 503, 429 with `Retry-After`, or a 401/403/404).
- `drop_before`: close the connection before processing the request (nothing happened).
- `drop_after`: process the request, then close without answering (the client cannot know that
  e.g. its `POST /jobs` created a job: the case that makes naive retries create duplicate jobs).
- `latency`: wait `latency` real seconds, then answer normally.
- `html`: answer 200 with an HTML page (a proxy or login page in front of Airbyte).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["status", "drop_before", "drop_after", "latency", "html"]
TRANSIENT_MIX: tuple[tuple[FaultKind, int], ...] = (
    ("status", 500),
    ("status", 502),
    ("status", 503),
    ("status", 504),
    ("status", 429),
    ("drop_before", 0),
    ("drop_after", 0),
)


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    latency: float = 0.0


@dataclass
class FaultRule:
    kinds: tuple[tuple[FaultKind, int], ...] = (("status", 503),)
    method: str | None = None
    path: str | None = None
    probability: float = 1.0
    times: int | None = None
    retry_after: float | None = None
    latency: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.fullmatch(self.path, path) is not None


class FaultInjector:
    def __init__(self, seed: int = 0):
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def status(
        self,
        status: int,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int | None = 1,
        retry_after: float | None = None,
    ) -> FaultRule:
        return self.add(
            FaultRule(
                kinds=(("status", status),), method=method, path=path, times=times, retry_after=retry_after
            )
        )

    def drop(
        self, *, after: bool, method: str | None = None, path: str | None = None, times: int | None = 1
    ) -> FaultRule:
        kind: FaultKind = "drop_after" if after else "drop_before"
        return self.add(FaultRule(kinds=((kind, 0),), method=method, path=path, times=times))

    def latency(
        self, seconds: float, *, method: str | None = None, path: str | None = None, times: int | None = 1
    ) -> FaultRule:
        return self.add(
            FaultRule(kinds=(("latency", 0),), method=method, path=path, times=times, latency=seconds)
        )

    def html(self, *, path: str | None = None, times: int | None = 1) -> FaultRule:
        return self.add(FaultRule(kinds=(("html", 200),), path=path, times=times))

    def transient(self, rate: float, *, retry_after: float = 0.05, path: str | None = None) -> FaultRule:
        """Fail `rate` of all requests with a random transient fault (5xx, 429, dropped connection)."""
        return self.add(FaultRule(kinds=TRANSIENT_MIX, probability=rate, retry_after=retry_after, path=path))

    def pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path) or self._rng.random() >= rule.probability:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                kind, status = self._rng.choice(rule.kinds)
                self.injected[f"{kind}:{status}" if kind == "status" else kind] += 1
                retry_after = rule.retry_after if status in (429, 503) else None
                return Fault(kind=kind, status=status, retry_after=retry_after, latency=rule.latency)
        return None
