"""Event-driven pieces: the CDC checks (and their resource, by mode)."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.events.cdc import CdcSourceResource, cdc_checks
from airbyte_platform.settings import Settings


def build_events_defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=[cdc_checks])


def build_events_resources(settings: Settings) -> dict[str, object]:
    cdc = settings.cdc
    assert cdc is not None
    return {
        "cdc_source": CdcSourceResource(
            dsn=dg.EnvVar(cdc.source_dsn_var) if cdc.source_dsn_var else None,
            local_pgdata=None if cdc.source_dsn_var else str(settings.home / "cdc_source_postgres"),
            slot_name=cdc.slot_name,
            max_lag_seconds=cdc.max_lag_seconds,
            max_lag_bytes=cdc.max_lag_bytes,
        )
    }
