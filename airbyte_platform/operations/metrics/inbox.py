"""Webhook intake from the durable inbox: requests per source, outcome and reason, events stored
per route, and each route's backlog.

The request counters are written by the receiver into the inbox (see `IntakeKey`), so they are
the receiver pods' totals whichever process scrapes them, and survive restarts of both.

The backlog of a route is what its sensor has not read yet: the events after the position kept in
the sensor's cursor (read from the instance's sensor state, as the daemon stores it). Counting is
bounded by `BACKLOG_LIMIT`; past it the gauge says "at least".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType
from prometheus_client.metrics_core import Metric

from airbyte_platform.events.inbox import Inbox, IntakeKey
from airbyte_platform.events.routes import (
    AIRBYTE_EVENT_DRIVEN_SYNC,
    AIRBYTE_NOTIFICATIONS,
    EVENT_DRIVEN_SYNC,
    POSTGRES_CDC_REPLICATION,
)
from airbyte_platform.events.sensors.airbyte_notifications import SENSOR_NAME as AIRBYTE_NOTIFICATION_SENSOR
from airbyte_platform.events.sensors.cursor import CursorError, load_cursor
from airbyte_platform.events.sensors.stripe_sync import SENSOR_NAME as EVENT_DRIVEN_SYNC_SENSOR
from airbyte_platform.operations.metrics.families import counter, gauge

BACKLOG_LIMIT = 10_000
ROUTE_SENSORS = {
    EVENT_DRIVEN_SYNC: EVENT_DRIVEN_SYNC_SENSOR,
    AIRBYTE_EVENT_DRIVEN_SYNC: f"{AIRBYTE_EVENT_DRIVEN_SYNC}_webhook_sensor",
    POSTGRES_CDC_REPLICATION: f"{POSTGRES_CDC_REPLICATION}_webhook_sensor",
    AIRBYTE_NOTIFICATIONS: AIRBYTE_NOTIFICATION_SENSOR,
}
# Always exported, at 0 until the first request: a rate() over a series that appears late misses its start.
BASELINE = tuple(
    IntakeKey(source, outcome)
    for source in ("stripe", "airbyte", "trigger")
    for outcome in ("accepted", "duplicate")
)


def sensor_positions(instance: dg.DagsterInstance) -> dict[str, str | None]:
    """Inbox position of each route's sensor, from the sensor cursors the daemon keeps."""
    positions: dict[str, str | None] = {}
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        name = state.origin.instigator_name
        cursor = getattr(state.instigator_data, "cursor", None)
        for route, sensor in ROUTE_SENSORS.items():
            if name == sensor:
                try:
                    positions[route] = load_cursor(cursor).get("position")
                except CursorError:
                    positions[route] = None
    return positions


def collect_inbox(
    instance: dg.DagsterInstance, inbox: Inbox, clock: Callable[[], float] = time.time
) -> Iterator[Metric]:
    accepted = gauge(
        "webhook_events_stored", "Webhook events accepted and stored in the inbox (after pruning).", ["route"]
    )
    backlog = gauge("webhook_inbox_backlog", "Stored events the route's sensor has not read yet.", ["route"])
    oldest = gauge(
        "webhook_inbox_oldest_unprocessed_age_seconds",
        "Age of the oldest event the route's sensor has not read (0 when none).",
        ["route"],
    )
    requests = counter(
        "webhook_requests",
        "Webhook requests by source and outcome (accepted, duplicate, rejected, ignored, unavailable) "
        "and, for refusals, the reason.",
        ["source", "outcome", "reason"],
    )
    for key, value in sorted({**dict.fromkeys(BASELINE, 0), **inbox.intake_counts()}.items()):
        requests.add_metric(list(key), float(value))
    yield requests
    positions = sensor_positions(instance)
    now = clock()
    for route in ROUTE_SENSORS:
        accepted.add_metric([route], inbox.count(route))
        pending = inbox.read_after(route, positions.get(route), BACKLOG_LIMIT)
        backlog.add_metric([route], len(pending))
        oldest.add_metric([route], max(0.0, now - pending[0].received_at) if pending else 0.0)
    yield from (accepted, backlog, oldest)
