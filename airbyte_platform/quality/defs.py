"""The quality checks of every declared stream, as one Definitions."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.quality.freshness import build_freshness_checks, build_freshness_sensor
from airbyte_platform.quality.gx_suites import build_gx_checks
from airbyte_platform.quality.processed_stripe_checks import processed_stripe_checks
from airbyte_platform.quality.snowflake_checks import snowflake_table_checks


def build_quality_defs() -> dg.Definitions:
    freshness = build_freshness_checks()
    return dg.Definitions(
        asset_checks=[*build_gx_checks(), *freshness, processed_stripe_checks, snowflake_table_checks],
        sensors=[build_freshness_sensor(freshness)],
    )
