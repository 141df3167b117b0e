"""The transform assets (same in both modes; resources from resources.py)."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.transforms.automation import with_transform_automation
from airbyte_platform.transforms.databricks.assets import processed_stripe
from airbyte_platform.transforms.snowflake.assets import build_snowflake_assets


def build_transform_defs() -> dg.Definitions:
    return with_transform_automation(dg.Definitions(assets=[processed_stripe, *build_snowflake_assets()]))
