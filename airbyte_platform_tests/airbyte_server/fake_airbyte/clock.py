"""Simulated wall-clock time, so a 12-hour Airbyte job can run in seconds.

Simulated time runs `scale` times faster than real time from a shared real `epoch`. Two
processes built with the same epoch and scale (the server subprocess of a benchmark and the
client under test) agree on simulated time because both derive it from the system clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScaledClock:
    scale: float = 1.0
    epoch: float = field(default_factory=time.time)

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        return self.epoch + (time.time() - self.epoch) * self.scale

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        if seconds > 0:
            time.sleep(seconds / self.scale)
