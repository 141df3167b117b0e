"""Metric family helpers: one gauge family per name, labelled samples added as they are found."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

PREFIX = "airbyte_platform_"


def gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", documentation, labels=labels)


def counter(name: str, documentation: str, labels: list[str]) -> CounterMetricFamily:
    # CounterMetricFamily appends `_total` to the exposed sample name.
    return CounterMetricFamily(f"{PREFIX}{name}", documentation, labels=labels)
