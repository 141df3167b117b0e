"""Local-mode ingestion: the declared connections synced by the embedded runner."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.ingestion.connection_assets import build_local_ingestion_assets
from airbyte_platform.ingestion.destinations import DestinationsResource
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.ingestion.local_reset import build_local_reset_job
from airbyte_platform.settings import Settings


def build_local_ingestion_defs(settings: Settings) -> dg.Definitions:
    # The reset job has prod's name and run config (airbyte_server/reset.py), run by the embedded runner.
    return dg.Definitions(
        assets=build_local_ingestion_assets(settings), jobs=[build_local_reset_job(settings)]
    )


def build_local_ingestion_resources(settings: Settings) -> dict[str, object]:
    destinations = build_destinations_resource(settings)
    return {
        "destinations": destinations,
        "airbyte": EmbeddedAirbyteResource(
            destinations=destinations, connectors_dir=str(settings.connectors_dir)
        ),
    }


def build_destinations_resource(settings: Settings) -> DestinationsResource:
    return DestinationsResource(
        lake_root=settings.lake_root,
        home=str(settings.home),
        postgres_dsn=dg.EnvVar(settings.postgres_dsn_var) if settings.postgres_dsn_var else None,
    )
