"""The quality checks of every declared stream, as one Definitions."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.quality.gx_suites import build_gx_checks
from airbyte_platform.quality.processed_stripe_checks import processed_stripe_checks
from airbyte_platform.quality.snowflake_checks import snowflake_table_checks
from airbyte_platform.settings import Settings


def build_quality_defs(settings: Settings | None = None) -> dg.Definitions:
    # Freshness is a policy on the sync assets (quality/freshness.py), applied where they are built.
    gx_project = settings.gx_context_root_dir if settings is not None else None
    return dg.Definitions(
        asset_checks=[
            *build_gx_checks(gx_project=gx_project),
            processed_stripe_checks,
            snowflake_table_checks,
        ]
    )
