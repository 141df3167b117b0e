"""CDC of the application PostgreSQL: slot readings, their verdicts, the checks and the lag sensor."""

from airbyte_platform.events.cdc.checks import (
    CDC_CHECK_NAMES,
    CHECK_CDC_HEALTH,
    CHECK_REPLICATION_LAG,
    build_cdc_checks,
    cdc_asset_keys,
)
from airbyte_platform.events.cdc.resource import CdcSourceResource, CdcSourceUnreachable
from airbyte_platform.events.cdc.sensor import build_cdc_lag_sensor

__all__ = [
    "CDC_CHECK_NAMES",
    "CHECK_CDC_HEALTH",
    "CHECK_REPLICATION_LAG",
    "CdcSourceResource",
    "CdcSourceUnreachable",
    "build_cdc_checks",
    "build_cdc_lag_sensor",
    "cdc_asset_keys",
]
