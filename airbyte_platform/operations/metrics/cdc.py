"""CDC lag of the replication slot, read live from the source at scrape time.

The same reading and lag rule as `check_replication_lag` (events/cdc): bytes the slot has not
confirmed, and seconds from the heartbeat. Exported with the configured limits so alert rules
compare against the deployment's own `max_lag_seconds` rather than a number copied into the rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import Metric

from airbyte_platform.events.cdc.assessment import seconds_behind
from airbyte_platform.events.cdc.slot import SlotReading
from airbyte_platform.operations.metrics.families import gauge


def collect_cdc(
    reading: SlotReading, max_lag_seconds: int, max_lag_bytes: int, clock: Callable[[], float] = time.time
) -> Iterator[Metric]:
    labels = [reading.slot_name]
    lag_bytes = gauge("cdc_lag_bytes", "WAL bytes the replication slot has not confirmed.", ["slot"])
    lag_seconds = gauge("cdc_lag_seconds", "How far the CDC consumer is behind, in seconds.", ["slot"])
    active = gauge("cdc_slot_active", "1 when a consumer is attached to the slot.", ["slot"])
    present = gauge("cdc_slot_present", "1 when the replication slot exists.", ["slot"])
    limit_seconds = gauge("cdc_max_lag_seconds", "The configured lag limit (CDC_MAX_LAG_SECONDS).", ["slot"])
    limit_bytes = gauge(
        "cdc_max_lag_bytes", "The configured WAL backlog limit (CDC_MAX_LAG_BYTES).", ["slot"]
    )
    present.add_metric(labels, 1.0 if reading.slot is not None else 0.0)
    if reading.slot is not None:
        active.add_metric(labels, 1.0 if reading.slot.active else 0.0)
        if reading.slot.bytes_behind is not None:
            lag_bytes.add_metric(labels, float(reading.slot.bytes_behind))
    seconds, _, _ = seconds_behind(reading, None, clock())
    if seconds is not None:
        lag_seconds.add_metric(labels, seconds)
    limit_seconds.add_metric(labels, float(max_lag_seconds))
    limit_bytes.add_metric(labels, float(max_lag_bytes))
    yield from (lag_bytes, lag_seconds, active, present, limit_seconds, limit_bytes)
