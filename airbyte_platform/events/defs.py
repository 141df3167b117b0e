"""The events area as one Definitions: inbox sensors, the Airbyte notification sensor, CDC checks and lag sensor.

The sensors target the jobs named after the Airflow DAGs (`event_driven_sync`,
`airbyte_event_driven_sync`, `postgres_cdc_replication`), which `airflow_compat` defines; the
code location merges both. The CDC job's 10-minute schedule is the DAG's and lives there too.
"""

from __future__ import annotations

import dagster as dg

from airbyte_platform.events.cdc import build_cdc_checks, build_cdc_lag_sensor
from airbyte_platform.events.resources import build_events_resources
from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC, POSTGRES_CDC_REPLICATION
from airbyte_platform.events.sensors.airbyte_notifications import build_airbyte_notification_sensor
from airbyte_platform.events.sensors.stripe_sync import build_event_driven_sync_sensor
from airbyte_platform.events.sensors.triggers import build_trigger_sensor
from airbyte_platform.settings import Settings, get_settings

RUNNING, STOPPED = dg.DefaultSensorStatus.RUNNING, dg.DefaultSensorStatus.STOPPED


def build_events_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    assert settings.airbyte is not None
    # Inbox sensors do nothing until an event arrives, so they run from the start, locally too:
    # an event posted to the receiver of `make dev` launches its run with no clicking.
    sensors = [
        build_event_driven_sync_sensor(RUNNING),
        build_trigger_sensor(AIRBYTE_EVENT_DRIVEN_SYNC, settings, RUNNING),
        build_trigger_sensor(POSTGRES_CDC_REPLICATION, settings, RUNNING),
        # Without an Airbyte API there is nothing to confirm notifications against.
        build_airbyte_notification_sensor(settings, RUNNING if settings.airbyte.api_url else STOPPED),
        # Locally nothing consumes the stand-in's slot, so the lag sensor is opt-in there.
        build_cdc_lag_sensor(STOPPED if settings.is_local else RUNNING),
    ]
    return sensors


def build_events_defs(settings: Settings | None = None) -> dg.Definitions:
    """Sensors and CDC checks; resources come from `build_events_resources` (merged by the code location)."""
    settings = settings or get_settings()
    return dg.Definitions(asset_checks=build_cdc_checks(), sensors=build_events_sensors(settings))


__all__ = ["build_events_defs", "build_events_resources", "build_events_sensors"]
