"""Sensors that launch runs from trigger events: `airbyte_event_driven_sync`, `postgres_cdc_replication`.

`POST /webhooks/trigger {"job": "airbyte_event_driven_sync", "run_config": {"connection_id": ...}}`
becomes a run of the connection's assets only (the job spans every connection's streams, as the
DAG's single `trigger_sync` task served any connection id); the triggers of a connection that arrive
before its run starts are answered by that one run (`coalesce_by_connection`). A manual launch with a connection id
(the DAG's "trigger with config") is `python -m airbyte_platform.events.trigger
airbyte_event_driven_sync --connection-id <id>`, which posts that trigger; in the UI, the job's
launchpad takes the same `connection_id: <id or name>`.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations
# (context type, resource parameters) at definition time.
import functools
from collections.abc import Mapping, Sequence
from types import MappingProxyType

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

EMPTY: Mapping[str, SyncOp] = MappingProxyType({})


def trigger_run_request(
    event: StoredEvent, settings: Settings, ops: Mapping[str, SyncOp] = EMPTY
) -> dg.RunRequest | str:
    """The run this trigger asks for, or why it cannot run (settings changed since it was accepted).

    `ops`: the code location's sync ops by connection id and name. A connection's trigger runs the job subset to that connection's
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
    op = ops.get(connection_id)
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
        description=(
            f"Launches {job_name} for POST /webhooks/trigger events (run key = event id); "
            + (
                "one run per connection answers the triggers that arrive before it starts."
                if job_name == AIRBYTE_EVENT_DRIVEN_SYNC
                else "one run per event."
            )
        ),
    )
    def trigger_sensor(
        context: dg.SensorEvaluationContext, webhook_inbox: WebhookInboxResource
    ) -> dg.SensorResult | dg.SkipReason:
        new = read_new_events(context, webhook_inbox, job_name)
        if not isinstance(new, NewEvents):
            return new
        run_requests: list[dg.RunRequest] = []
        refused: list[str] = []
        ops = _sync_ops(context.repository_def) if job_name == AIRBYTE_EVENT_DRIVEN_SYNC else EMPTY
        for event in new.events:
            request = trigger_run_request(event, settings, ops)
            if isinstance(request, dg.RunRequest):
                run_requests.append(request)
            else:
                context.log.warning(request)
                refused.append(request)
        covered: list[str] = []
        if job_name == AIRBYTE_EVENT_DRIVEN_SYNC:
            run_requests, covered = coalesce_by_connection(context.instance, run_requests, settings)
            for note in covered:
                context.log.info(note)
        cursor = dump_cursor({**new.cursor, "position": new.events[-1].position})
        skip = None if run_requests else "; ".join([*refused, *covered][:20])
        return dg.SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip)

    return trigger_sensor


@functools.lru_cache(maxsize=4)
def _sync_ops(repository: dg.RepositoryDefinition | None) -> Mapping[str, SyncOp]:
    """The sync ops of the code location the sensor runs in, by connection id and by name, found once
    per loaded repository (a 500-event tick at 5,000 connections scanned the list 500 times: 0.27 s)."""
    if repository is None:
        return EMPTY
    unique = {id(assets): assets for assets in repository.assets_defs_by_key.values()}  # one per key
    ops = sync_ops(unique.values())
    # Names first, ids last: an id always finds its own connection, even if another is named like it.
    return MappingProxyType(
        {**{op.connection_name: op for op in ops}, **{op.connection_id: op for op in ops}}
    )


COALESCED_TAG = "airbyte_platform/coalesced_events"
NOT_STARTED = frozenset({dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED})


def coalesce_by_connection(
    instance: dg.DagsterInstance, requests: Sequence[dg.RunRequest], settings: Settings
) -> tuple[list[dg.RunRequest], list[str]]:
    """One run per connection for the triggers of one evaluation, and none while one is still queued.

    A sync brings everything the source has when it starts, so the triggers of a connection that arrive
    before its queued run starts are all answered by that run. Without this a burst of 10,000 triggers
    for a few connections queued 10,000 runs, each waiting on the one-sync-per-connection pool, and the
    daemon spent ~1.5 s creating each (bench/scale.py). The first trigger's event id stays the run key;
    the count of triggers it answers is a run tag. A run already started does not absorb new triggers:
    data may have landed after its sync began.
    """
    kept: dict[str, dg.RunRequest] = {}
    counts: dict[str, int] = {}
    # Looked up once per connection and evaluation: a backlog is mostly triggers of a few connections.
    queued_by_connection: dict[str, str | None] = {}
    answered_by_queued: dict[str, list[str]] = {}  # connection id -> run keys of its triggers
    for request in requests:
        connection_id = (request.tags or {}).get("airbyte/connection_id", "")
        counts[connection_id] = counts.get(connection_id, 0) + 1
        if connection_id in kept:
            continue
        if connection_id not in queued_by_connection:
            queued_by_connection[connection_id] = _queued_run(
                instance, _keys(request, connection_id, settings)
            )
        if queued_by_connection[connection_id] is not None:
            answered_by_queued.setdefault(connection_id, []).append(request.run_key or "")
            counts[connection_id] -= 1
            continue
        kept[connection_id] = request
    covered = [
        f"{len(keys)} trigger(s) for connection {connection_id} (first {keys[0]}): "
        f"run {queued_by_connection[connection_id]} is queued and answers them"
        for connection_id, keys in answered_by_queued.items()
    ]
    result = [
        request.with_replaced_attrs(tags={**(request.tags or {}), COALESCED_TAG: str(counts[connection_id])})
        if counts[connection_id] > 1
        else request
        for connection_id, request in kept.items()
    ]
    for connection_id, request in kept.items():
        if counts[connection_id] > 1:
            covered.append(
                f"{counts[connection_id]} triggers for connection {connection_id}: one run (run key {request.run_key})"
            )
    return result, covered


def _keys(request: dg.RunRequest, connection_id: str, settings: Settings) -> list[dg.AssetKey]:
    """The connection's assets: the request's selection, else the declared connection's streams."""
    if request.asset_selection:
        return list(request.asset_selection)
    connection = connection_for_id(connection_id, settings)
    return [] if connection is None else [connection.asset_key(stream) for stream in connection.streams]


def _queued_run(instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey]) -> str | None:
    """A run planned to materialize any of `keys` that has not started yet."""
    for key in keys:
        planned = instance.get_latest_planned_materialization_info(key)
        if planned is None:
            continue
        run = instance.get_run_by_id(planned.run_id)
        if run is not None and run.status in NOT_STARTED:
            return run.run_id
    return None
