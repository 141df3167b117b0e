"""Freshness checks: each synced stream must have been updated within its connection's window.

Dagster 1.13 marks these builders as superseded by `FreshnessPolicy`; we keep them on purpose:
the team wants freshness as an *asset check* beside min_records and gx_suite (same UI tab, same
alerting on check failures), which a FreshnessPolicy is not.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from airbyte_platform.ingestion.catalog import ConnectionSpec, declared_connections

warnings.filterwarnings("ignore", category=dg.SupersessionWarning, module=__name__)


def build_freshness_checks(
    connections: tuple[ConnectionSpec, ...] | None = None,
) -> list[dg.AssetChecksDefinition]:
    checks: list[dg.AssetChecksDefinition] = []
    for connection in connections if connections is not None else declared_connections():
        checks.extend(
            dg.build_last_update_freshness_checks(
                assets=[connection.asset_key(stream) for stream in connection.streams],
                lower_bound_delta=timedelta(hours=connection.freshness_hours),
            )
        )
    return checks


def build_freshness_sensor(checks: list[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    # Freshness checks only evaluate when something runs them; this sensor does, every 5 minutes.
    return dg.build_sensor_for_freshness_checks(
        freshness_checks=checks, minimum_interval_seconds=300, name="freshness_checks_sensor"
    )
