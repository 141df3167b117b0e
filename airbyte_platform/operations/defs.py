"""The operations area as one Definitions: the run notification sensors and the transforms' automation sensor."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.operations.notifications.sensors import build_notification_sensors
from airbyte_platform.settings import Settings
from airbyte_platform.transforms.automation import build_transform_automation_sensor


def build_operations_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        sensors=[*build_notification_sensors(settings), build_transform_automation_sensor(settings)]
    )
