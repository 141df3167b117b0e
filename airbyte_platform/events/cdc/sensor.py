"""The CDC lag sensor: watches the replication slot between the scheduled checks.

Every evaluation writes a heartbeat (when the table exists) and reads the slot. When the verdict
changes (healthy → lagging, lagging → recovered, slot lost, ...) it launches
`postgres_cdc_replication`, so the two checks record the change on the assets within one sensor
interval instead of waiting for the 10-minute schedule. An unreachable database makes it skip
with the reason; it never raises.

Cursor (JSON): {"state": "ok" | "<failure codes>", "since": <unix time of the change>}.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations
# (context type, resource parameters) at definition time.
import time

import dagster as dg

from airbyte_platform.events.cdc.assessment import assess_health, assess_lag, size
from airbyte_platform.events.cdc.checks import cdc_asset_keys
from airbyte_platform.events.cdc.resource import CdcSourceResource, CdcSourceUnreachable
from airbyte_platform.events.routes import POSTGRES_CDC_REPLICATION
from airbyte_platform.events.sensors.asset_history import last_materialized_at
from airbyte_platform.events.sensors.cursor import dump_cursor, load_cursor

SENSOR_NAME = "postgres_cdc_lag_sensor"
SENSOR_INTERVAL_SECONDS = 30


def build_cdc_lag_sensor(default_status: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        job_name=POSTGRES_CDC_REPLICATION,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description="Reads the replication slot (after writing a heartbeat if CDC_WRITE_HEARTBEAT is on) and "
        "runs postgres_cdc_replication when slot health or lag changes state.",
    )
    def postgres_cdc_lag_sensor(
        context: dg.SensorEvaluationContext, cdc_source: CdcSourceResource
    ) -> dg.SensorResult | dg.SkipReason:
        now = time.time()
        try:
            heartbeat, reading = cdc_source.heartbeat_and_read()
        except CdcSourceUnreachable as exc:
            return dg.SkipReason(
                f"CDC source unreachable (CDC_SOURCE_DSN), slot {cdc_source.slot_name!r} not checked: {exc}"
            )
        health = assess_health(reading)
        lag = assess_lag(
            reading,
            max_lag_seconds=cdc_source.max_lag_seconds,
            max_lag_bytes=cdc_source.max_lag_bytes,
            last_sync_at=last_materialized_at(context.instance, cdc_asset_keys()),
            now=now,
        )
        # Warnings (an idle slot between syncs) do not count as a state change: they come and go
        # with every Airbyte sync and would launch a run each time.
        failures = sorted({v.code for v in (health, lag) if v.is_error})
        state = ",".join(failures) or "ok"
        previous = load_cursor(context.cursor)
        if previous.get("state") == state:
            summary = lag.message if lag.passed else "; ".join(v.message for v in (health, lag) if v.is_error)
            return dg.SkipReason(f"unchanged ({state}) since {previous.get('since')}: {summary}")
        cursor = dump_cursor({"state": state, "since": round(now, 3)})
        if previous.get("state") is None and state == "ok":
            return dg.SensorResult(skip_reason=f"first reading, healthy: {lag.message}", cursor=cursor)
        context.log.info(
            f"CDC slot state {previous.get('state', 'unknown')} -> {state}; heartbeat {heartbeat}"
        )
        bytes_behind = reading.slot.bytes_behind if reading.slot is not None else None
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"cdc-{state}-{int(now)}",
                    job_name=POSTGRES_CDC_REPLICATION,
                    tags={
                        "airbyte_platform/cdc_state": state,
                        "airbyte_platform/cdc_previous_state": str(previous.get("state", "unknown")),
                        "airbyte_platform/cdc_bytes_behind": "unknown"
                        if bytes_behind is None
                        else size(bytes_behind),
                    },
                )
            ],
            cursor=cursor,
        )

    return postgres_cdc_lag_sensor
