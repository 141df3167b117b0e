"""Airbyte sync notifications → the connection's assets, for syncs that ran outside Dagster.

A sync started in the Airbyte UI or by Airbyte's own scheduler leaves Dagster's view of the assets
stale. For each notification the sensor:

1. confirms it through the Airbyte API (`GET /jobs/{id}`): the job exists, belongs to the
   notified connection and has finished; an unconfirmed notification is dropped;
2. waits while a Dagster run of the same assets is queued or running (that run may be the one
   that started this very job, and will report it itself);
3. skips a job whose id is already on the assets' latest materializations (Dagster reported it);
4. otherwise reports the sync: one `AssetMaterialization` per stream for a succeeded job, one
   `AssetObservation` (status, error) per stream for a failed, cancelled or incomplete one.

Notifications waiting on step 1 (Airbyte unreachable, job not finished) or 2 stay in the cursor's
`pending` list and are looked at again at the next evaluation, for up to a day.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations
# (context type, resource parameters) at definition time.
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec
from airbyte_platform.core.specs import connection_for_id
from airbyte_platform.events.airbyte_jobs import (
    TERMINAL_STATUSES,
    AirbyteJobApiResource,
    AirbyteJobLookupError,
    AirbyteJobNotFound,
)
from airbyte_platform.events.inbox import InboxError, StoredEvent
from airbyte_platform.events.notifications import AirbyteNotification, parse_airbyte_notification
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.routes import AIRBYTE_NOTIFICATIONS
from airbyte_platform.events.sensors.asset_history import reported_job_ids, run_in_progress
from airbyte_platform.events.sensors.cursor import dump_cursor, load_cursor
from airbyte_platform.events.sensors.inbox_reading import (
    BATCH_SIZE,
    SENSOR_INTERVAL_SECONDS,
    acknowledge_read_position,
)
from airbyte_platform.settings import Settings

SENSOR_NAME = "airbyte_notification_sensor"
MAX_PENDING = 200
MAX_PENDING_SECONDS = 24 * 3600
AssetEvent = dg.AssetMaterialization | dg.AssetObservation


@dataclass
class Decisions:
    asset_events: list[AssetEvent] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    api_down: str | None = None  # after one failure, the others wait without another call


def _report(
    event: StoredEvent, notification: AirbyteNotification, connection: ConnectionSpec, job: dict[str, Any]
) -> list[AssetEvent]:
    status = str(job["status"])
    metadata: dict[str, dg.RawMetadataValue] = {
        "sync_id": notification.job_id,
        "airbyte/job_id": notification.job_id,
        "airbyte/connection_id": notification.connection_id,
        "airbyte/job_status": status,
        "airbyte/reported_by": f"{SENSOR_NAME}: Airbyte notification {event.event_id}, confirmed by GET /jobs",
    }
    for key, value in (
        ("airbyte/job_rows_synced", job.get("rowsSynced")),
        ("airbyte/job_bytes_synced", job.get("bytesSynced")),
    ):
        if isinstance(value, int):
            metadata[key] = value
    if notification.records_committed is not None:
        metadata["airbyte/records_committed"] = notification.records_committed
    keys = [connection.asset_key(stream) for stream in connection.streams]
    if status == "succeeded":
        description = (
            f"Airbyte job {notification.job_id} synced {connection.name} outside Dagster "
            f"({job.get('rowsSynced', 'unknown')} rows); confirmed through the Airbyte API"
        )
        return [
            dg.AssetMaterialization(asset_key=key, description=description, metadata=metadata) for key in keys
        ]
    if notification.error_message:
        metadata["airbyte/error"] = notification.error_message[:2000]
    description = f"Airbyte job {notification.job_id} of {connection.name} ended {status} outside Dagster"
    return [dg.AssetObservation(asset_key=key, description=description, metadata=metadata) for key in keys]


def _decide(
    event: StoredEvent,
    api: AirbyteJobApiResource,
    instance: dg.DagsterInstance,
    settings: Settings,
    now: float,
    out: Decisions,
) -> None:
    notification = parse_airbyte_notification(event.data())
    connection = connection_for_id(notification.connection_id, settings)
    if connection is None:
        out.notes.append(
            f"{event.event_id}: connection {notification.connection_id} is not declared, ignored"
        )
        return
    keys = [connection.asset_key(stream) for stream in connection.streams]

    def wait(reason: str) -> None:
        if now - event.received_at > MAX_PENDING_SECONDS:
            out.notes.append(f"{event.event_id}: dropped after waiting a day ({reason})")
        else:
            out.pending.append(event.event_id)
            out.notes.append(f"{event.event_id}: waiting, {reason}")

    if out.api_down is not None:
        return wait(out.api_down)
    try:
        job = api.get_job(notification.job_id)
    except AirbyteJobNotFound as exc:
        out.notes.append(f"{event.event_id}: not confirmed, {exc}; dropped")
        return
    except AirbyteJobLookupError as exc:
        out.api_down = str(exc)
        return wait(out.api_down)
    if str(job.get("connectionId")) != notification.connection_id:
        out.notes.append(
            f"{event.event_id}: not confirmed, Airbyte job {notification.job_id} belongs to connection "
            f"{job.get('connectionId')}, not {notification.connection_id}; dropped"
        )
        return
    if job["status"] not in TERMINAL_STATUSES:
        return wait(f"Airbyte job {notification.job_id} is still {job['status']}")
    running = run_in_progress(instance, keys)
    if running is not None:
        return wait(
            f"Dagster run {running} is syncing {connection.name}; it may report job {notification.job_id}"
        )
    if str(notification.job_id) in reported_job_ids(instance, keys):
        out.notes.append(f"{event.event_id}: job {notification.job_id} already reported by Dagster")
        return
    out.asset_events.extend(_report(event, notification, connection, job))
    out.notes.append(
        f"{event.event_id}: reported {job['status']} job {notification.job_id} on {connection.name}"
    )


def build_airbyte_notification_sensor(
    settings: Settings, default_status: dg.DefaultSensorStatus, clock: Callable[[], float] = time.time
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description="Confirms Airbyte sync notifications through the Airbyte API and reports syncs that ran "
        "outside Dagster on the connection's assets.",
    )
    def airbyte_notification_sensor(
        context: dg.SensorEvaluationContext,
        webhook_inbox: WebhookInboxResource,
        airbyte_job_api: AirbyteJobApiResource,
    ) -> dg.SensorResult | dg.SkipReason:
        if not airbyte_job_api.configured:
            return dg.SkipReason("AIRBYTE_API_URL is not set: notifications stay in the inbox unconfirmed")
        cursor = load_cursor(context.cursor)
        try:
            with webhook_inbox.open() as inbox:
                acknowledge_read_position(context, inbox, AIRBYTE_NOTIFICATIONS, cursor.get("position"))
                waiting: Sequence[StoredEvent] = inbox.fetch(list(cursor.get("pending", [])))
                new = inbox.read_after(AIRBYTE_NOTIFICATIONS, cursor.get("position"), BATCH_SIZE)
        except InboxError as exc:
            return dg.SkipReason(f"webhook inbox unreadable: {exc}")
        if not waiting and not new:
            return dg.SkipReason("no Airbyte notifications to confirm")
        decisions = Decisions()
        now = clock()
        for event in [*waiting, *new]:
            _decide(event, airbyte_job_api, context.instance, settings, now, decisions)
        for note in decisions.notes[:50]:
            context.log.info(note)
        pending = decisions.pending[-MAX_PENDING:]
        next_cursor = dump_cursor(
            {"position": new[-1].position if new else cursor.get("position"), "pending": pending}
        )
        skip = None if decisions.asset_events else "; ".join(decisions.notes[:5])
        return dg.SensorResult(asset_events=decisions.asset_events, cursor=next_cursor, skip_reason=skip)

    return airbyte_notification_sensor
