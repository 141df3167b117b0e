"""The custom Collector: every figure is queried when Prometheus scrapes, nothing is kept between.

Each source is collected on its own: an unreachable inbox or CDC source drops its own series and
sets `airbyte_platform_exporter_source_up{source=...}` to 0, while the rest still answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import dagster as dg
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from airbyte_platform.events.cdc.slot import SlotReading
from airbyte_platform.events.inbox import Inbox
from airbyte_platform.operations.metrics.assets import collect_assets
from airbyte_platform.operations.metrics.cdc import collect_cdc
from airbyte_platform.operations.metrics.checks import collect_checks
from airbyte_platform.operations.metrics.families import gauge
from airbyte_platform.operations.metrics.inbox import collect_inbox
from airbyte_platform.operations.metrics.runs import collect_runs
from airbyte_platform.settings import MetricsSettings

log = logging.getLogger("airbyte_platform.operations.metrics")


class PlatformCollector(Collector):
    def __init__(
        self,
        instance: dg.DagsterInstance,
        settings: MetricsSettings,
        open_inbox: Callable[[], AbstractContextManager[Inbox]] | None = None,
        read_cdc: Callable[[], tuple[SlotReading, int, int]] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.instance = instance
        self.settings = settings
        self.open_inbox = open_inbox
        self.read_cdc = read_cdc
        self.clock = clock

    def _sources(self) -> dict[str, Callable[[], Iterator[Metric]]]:
        sources: dict[str, Callable[[], Iterator[Metric]]] = {
            "assets": lambda: collect_assets(self.instance),
            "checks": lambda: collect_checks(self.instance, self.settings.recent_check_evaluations),
            "runs": lambda: collect_runs(self.instance, self.settings.recent_runs, self.clock),
        }
        if self.open_inbox is not None:
            open_inbox = self.open_inbox

            def inbox() -> Iterator[Metric]:
                with open_inbox() as opened:
                    yield from list(collect_inbox(self.instance, opened, self.clock))

            sources["inbox"] = inbox
        if self.read_cdc is not None:
            read_cdc = self.read_cdc
            sources["cdc"] = lambda: collect_cdc(*read_cdc(), clock=self.clock)
        return sources

    def collect(self) -> Iterator[Metric]:
        up = gauge("exporter_source_up", "1 when the source answered this scrape.", ["source"])
        took = gauge("exporter_source_seconds", "Time spent reading the source this scrape.", ["source"])
        for name, source in self._sources().items():
            started = time.monotonic()
            try:
                metrics = list(source())  # all or nothing per source: no half-read families
            except Exception as exc:  # one broken source must not blank the whole scrape
                log.warning(f"metrics source {name} failed: {type(exc).__name__}: {exc}")
                up.add_metric([name], 0.0)
            else:
                up.add_metric([name], 1.0)
                yield from metrics
            took.add_metric([name], time.monotonic() - started)
        yield up
        yield took
