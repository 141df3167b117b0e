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
import functools
from collections.abc import Sequence

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
from airbyte_platform.ingestion.sync_ops import SyncOp, sync_ops
from airbyte_platform.settings import Settings


def trigger_run_request(
    event: StoredEvent, settings: Settings, ops: Sequence[SyncOp] = ()
) -> dg.RunRequest | str:
    """The run this trigger asks for, or why it cannot run (settings changed since it was accepted).

    `ops`: the code location's sync ops. A connection's trigger runs the job subset to that connection's
    assets (a plan of one step), instead of the whole job whose other sync ops skip themselves: at
    5,000 connections the daemon created each such run from a 5,000-step plan, ~1.6 s per run request
    (bench/scale.py). Without `ops` (or for a connection they do not know) the job's own run config
    selects the connection, as in the launchpad.
    """
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
    tags = {**tags, "airbyte/connection": name, "airbyte/connection_id": connection_id}
    op = next((op for op in ops if op.answers_to(connection_id)), None)
    if op is not None:
        return dg.RunRequest(
            run_key=event.event_id, job_name=job_name, asset_selection=list(op.keys), tags=tags
        )
    # The job's own run config (as in the launchpad): the other connections' sync ops skip themselves.
    return dg.RunRequest(
        run_key=event.event_id,
        job_name=job_name,
        run_config={"connection_id": connection_id},
        tags=tags,
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
        ops = _sync_ops(context.repository_def) if job_name == AIRBYTE_EVENT_DRIVEN_SYNC else ()
        for event in new.events:
            request = trigger_run_request(event, settings, ops)
            if isinstance(request, dg.RunRequest):
                run_requests.append(request)
            else:
                context.log.warning(request)
                refused.append(request)
        cursor = dump_cursor({**new.cursor, "position": new.events[-1].position})
        skip = None if run_requests else "; ".join(refused)
        return dg.SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip)

    return trigger_sensor


@functools.lru_cache(maxsize=4)
def _sync_ops(repository: dg.RepositoryDefinition | None) -> tuple[SyncOp, ...]:
    """The sync ops of the code location the sensor runs in, found once per loaded repository."""
    if repository is None:
        return ()
    unique = {id(assets): assets for assets in repository.assets_defs_by_key.values()}  # one per key
    return tuple(sync_ops(unique.values()))
