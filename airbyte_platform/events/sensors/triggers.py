"""Sensors that launch one run per trigger event: `airbyte_event_driven_sync`, `postgres_cdc_replication`.

`POST /webhooks/trigger {"job": "airbyte_event_driven_sync", "run_config": {"connection_id": ...}}`
becomes a run of the connection's assets only (the job spans every connection's streams, as the
DAG's single `trigger_sync` task served any connection id). A manual launch with a connection id
(the DAG's "trigger with config") is `python -m airbyte_platform.events.trigger
airbyte_event_driven_sync --connection-id <id>`, which posts that trigger; in the UI, the job's
launchpad takes the same `connection_id: <id or name>`.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations
# (context type, resource parameters) at definition time.
import dagster as dg

from airbyte_platform.core.specs import connection_for_id
from airbyte_platform.events.inbox import StoredEvent
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC, TriggerError, validate_trigger
from airbyte_platform.events.sensors.cursor import dump_cursor
from airbyte_platform.events.sensors.inbox_reading import (
    SENSOR_INTERVAL_SECONDS,
    NewEvents,
    event_tags,
    read_new_events,
)
from airbyte_platform.settings import Settings


def trigger_run_request(event: StoredEvent, settings: Settings) -> dg.RunRequest | str:
    """The run this trigger asks for, or why it cannot run (settings changed since it was accepted)."""
    data = event.data()
    job_name = data.get("job")
    try:
        run_config = validate_trigger(job_name, data.get("run_config"), settings)
    except TriggerError as exc:
        return f"trigger {event.event_id} refused: {exc}"
    tags = event_tags(event)
    if job_name != AIRBYTE_EVENT_DRIVEN_SYNC:
        return dg.RunRequest(run_key=event.event_id, job_name=job_name, tags=tags)
    connection_id = run_config["connection_id"]
    connection = connection_for_id(connection_id, settings)
    name = connection.name if connection is not None else connection_id
    # The job's own run config (as in the launchpad): the other connections' sync ops skip themselves.
    return dg.RunRequest(
        run_key=event.event_id,
        job_name=job_name,
        run_config={"connection_id": connection_id},
        tags={**tags, "airbyte/connection": name, "airbyte/connection_id": connection_id},
    )


def build_trigger_sensor(
    job_name: str, settings: Settings, default_status: dg.DefaultSensorStatus
) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{job_name}_webhook_sensor",
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description=f"Launches {job_name} once per POST /webhooks/trigger event (run key = event id).",
    )
    def trigger_sensor(
        context: dg.SensorEvaluationContext, webhook_inbox: WebhookInboxResource
    ) -> dg.SensorResult | dg.SkipReason:
        new = read_new_events(context, webhook_inbox, job_name)
        if not isinstance(new, NewEvents):
            return new
        run_requests: list[dg.RunRequest] = []
        refused: list[str] = []
        for event in new.events:
            request = trigger_run_request(event, settings)
            if isinstance(request, dg.RunRequest):
                run_requests.append(request)
            else:
                context.log.warning(request)
                refused.append(request)
        cursor = dump_cursor({**new.cursor, "position": new.events[-1].position})
        skip = None if run_requests else "; ".join(refused)
        return dg.SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip)

    return trigger_sensor
