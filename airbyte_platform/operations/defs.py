"""The operations area as one Definitions: the run notification sensors."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.operations.notifications.sensors import build_notification_sensors
from airbyte_platform.settings import Settings


def build_operations_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(sensors=build_notification_sensors(settings))
