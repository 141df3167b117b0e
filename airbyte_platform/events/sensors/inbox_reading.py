"""Reading a route's new events from the inbox, after the position kept in the sensor cursor.

The cursor is `{"position": "<inbox position>"}` (plus sensor-specific keys). It only moves past an
event once the sensor has decided about it, and the run key of every run is the event id, so even
a cursor reset (or a sensor evaluated twice) cannot launch a run twice: Dagster skips a run key
the sensor has already used.

Each evaluation also tells the inbox the position it starts from (`acknowledge`): that cursor was
committed by Dagster at the end of the previous tick, so every event up to it has been decided.
Retention deletes only acknowledged events; a position from the tick in progress would not do
(its cursor may never be committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from airbyte_platform.events.inbox import Inbox, InboxError, StoredEvent
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.sensors.cursor import load_cursor

BATCH_SIZE = 500  # events per evaluation; the rest are read at the next one
SENSOR_INTERVAL_SECONDS = 30  # Dagster's default sensor interval, stated so the docs can rely on it


@dataclass(frozen=True)
class NewEvents:
    cursor: dict[str, Any]
    events: list[StoredEvent]


def read_new_events(
    context: dg.SensorEvaluationContext, inbox: WebhookInboxResource, route: str
) -> NewEvents | dg.SkipReason:
    cursor = load_cursor(context.cursor)
    try:
        with inbox.open() as opened:
            acknowledge_read_position(context, opened, route, cursor.get("position"))
            events = opened.read_after(route, cursor.get("position"), BATCH_SIZE)
    except InboxError as exc:
        return dg.SkipReason(f"webhook inbox unreadable, nothing launched: {exc}")
    if not events:
        return dg.SkipReason(f"no new {route} events in the webhook inbox")
    return NewEvents(cursor, events)


def acknowledge_read_position(
    context: dg.SensorEvaluationContext, inbox: Inbox, route: str, position: str | None
) -> None:
    """Record the committed cursor position for retention; a failure only delays pruning."""
    if position is None:
        return
    try:
        inbox.acknowledge(route, position)
    except InboxError as exc:
        context.log.warning(f"could not record the {route} read position (retention waits): {exc}")


def event_tags(event: StoredEvent) -> dict[str, str]:
    return {
        "airbyte_platform/event_id": event.event_id,
        "airbyte_platform/event_source": event.source,
        "airbyte_platform/event_kind": event.kind[:200],
    }
