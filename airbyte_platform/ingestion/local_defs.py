"""Local-mode ingestion: the declared connections synced by the embedded runner into the local lake and
the embedded PostgreSQL. A mode-selection point: one of the few modules that import local-only parts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from airbyte_platform.core.destinations import ANALYTICS_DATABASE, DestinationsResource
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.ingestion.local_reset import build_local_reset_job
from airbyte_platform.ingestion.sync_assets import declared_sync_assets
from airbyte_platform.settings import Settings


def build_local_ingestion_defs(settings: Settings) -> dg.Definitions:
    # The reset job has prod's name and run config (airbyte_server/reset.py), run by the embedded runner.
    return dg.Definitions(
        assets=[assets for _, assets in declared_sync_assets(settings)],
        jobs=[build_local_reset_job(settings)],
    )


def build_local_ingestion_resources(settings: Settings) -> dict[str, object]:
    destinations = build_destinations_resource(settings)
    return {
        "destinations": destinations,
        "airbyte": EmbeddedAirbyteResource(
            destinations=destinations, connectors_dir=str(settings.connectors_dir)
        ),
    }


class LocalDestinationsResource(DestinationsResource):
    """The destinations of local mode: without a DSN, the embedded PostgreSQL (pgserver) under `home`."""

    def postgres_uri(self) -> str:
        if self.postgres_dsn:
            return self.postgres_dsn
        from airbyte_platform.local_services.postgres import local_postgres_uri

        return local_postgres_uri(Path(self.home) / "postgres", ANALYTICS_DATABASE)


def build_destinations_resource(settings: Settings) -> DestinationsResource:
    resource = LocalDestinationsResource if settings.is_local else DestinationsResource
    return resource(
        lake_root=settings.lake_root,
        home=str(settings.home),
        postgres_dsn=dg.EnvVar(settings.postgres_dsn_var) if settings.postgres_dsn_var else None,
    )
