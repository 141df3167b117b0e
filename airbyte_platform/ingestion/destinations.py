"""Read access to where Airbyte lands data: the lake and the analytics PostgreSQL.

Locally the PostgreSQL is the embedded pgserver under `home`; in prod it is ANALYTICS_POSTGRES_DSN.
Checks and downstream assets read synced data through this resource only, so they work the same
in both modes.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from airbyte_platform.local_services.postgres import local_postgres_uri

ANALYTICS_DATABASE = "analytics"


class DestinationsResource(dg.ConfigurableResource):
    """The lake root and the analytics PostgreSQL that Airbyte connections write to."""

    lake_root: str = Field(description="Root of the data lake (a folder, or s3://bucket).")
    home: str = Field(
        description="Local data folder; holds the embedded PostgreSQL when postgres_dsn is unset."
    )
    postgres_dsn: str | None = Field(
        default=None, description="Analytics PostgreSQL DSN (secret, via EnvVar)."
    )

    def postgres_uri(self) -> str:
        return self.postgres_dsn or local_postgres_uri(Path(self.home) / "postgres", ANALYTICS_DATABASE)

    def postgres_sqlalchemy_url(self) -> str:
        """The DSN for SQLAlchemy-based readers (Great Expectations) with the psycopg 3 driver."""
        uri = self.postgres_uri()
        for prefix in ("postgresql://", "postgres://"):
            if uri.startswith(prefix):
                return "postgresql+psycopg://" + uri[len(prefix) :]
        return uri
