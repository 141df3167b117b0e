"""The quality checks of every declared stream, as one Definitions."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.quality.gx_suites import build_gx_checks
from airbyte_platform.quality.processed_stripe_checks import processed_stripe_checks
from airbyte_platform.quality.snowflake_checks import snowflake_table_checks


def build_quality_defs() -> dg.Definitions:
    # Freshness is a policy on the sync assets (quality/freshness.py), applied where they are built.
    return dg.Definitions(asset_checks=[*build_gx_checks(), processed_stripe_checks, snowflake_table_checks])
