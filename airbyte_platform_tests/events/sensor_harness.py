"""Evaluating a sensor the way the daemon does (`evaluate_tick`: run requests resolved and checked
against the sensor's target), with a pinned cursor, a real instance and real resources."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import dagster as dg
from dagster._core.definitions.sensor_definition import SensorExecutionData

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.events.inbox import NewEvent, open_inbox


def tick(
    sensor: dg.SensorDefinition,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    cursor: str | None = None,
) -> SensorExecutionData:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return sensor.evaluate_tick(context)


def store(dsn: str, events: Iterable[NewEvent]) -> None:
    with open_inbox(dsn) as inbox:
        inbox.insert_batch(list(events))


def position_after(dsn: str, event_id: str) -> str:
    """The inbox's reading position just after the stored event `event_id` (what a cursor holds)."""
    with open_inbox(dsn) as inbox:
        [stored] = inbox.fetch([event_id])
    return stored.position


def stripe(event_id: str, received_at: float | None = None) -> NewEvent:
    return NewEvent(
        event_id=event_id,
        source="stripe",
        route="event_driven_sync",
        kind="charge.succeeded",
        payload=f'{{"id": "{event_id}", "type": "charge.succeeded"}}',
        received_at=time.time() if received_at is None else received_at,
    )


def trigger(key: str, job: str, run_config: dict[str, object] | None = None) -> NewEvent:
    import json

    return NewEvent(
        event_id=f"trigger-{key}",
        source="trigger",
        route=job,
        kind=job,
        payload=json.dumps({"job": job, "run_config": run_config or {}}),
        received_at=time.time(),
    )


def connection_keys(name: str) -> list[dg.AssetKey]:
    connection = connection_named(name)
    return [connection.asset_key(stream) for stream in connection.streams]


def materialize_now(instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey], **metadata: object) -> None:
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, metadata=metadata))


def start_run_of(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey], job_name: str = "some_sync"
) -> str:
    """Create a (not yet started) run planned to materialize `keys`, as the daemon does on launch."""
    from dagster._core.execution.api import create_execution_plan

    @dg.multi_asset(specs=[dg.AssetSpec(key) for key in keys])
    def stand_in():  # never executed: only its plan matters
        raise NotImplementedError

    job = dg.Definitions(
        assets=[stand_in], jobs=[dg.define_asset_job(job_name, selection=dg.AssetSelection.assets(*keys))]
    ).resolve_job_def(job_name)
    return instance.create_run_for_job(job_def=job, execution_plan=create_execution_plan(job)).run_id
