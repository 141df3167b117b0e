"""Read access to where Airbyte lands data: the lake and the analytics PostgreSQL.

In prod the PostgreSQL is ANALYTICS_POSTGRES_DSN; locally `LocalDestinationsResource`
(ingestion/local_defs.py) supplies the embedded pgserver under `home`. Checks and downstream assets
read synced data through this resource only, so they work the same in both modes.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

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
        if not self.postgres_dsn:
            raise ValueError("no analytics PostgreSQL is configured: set ANALYTICS_POSTGRES_DSN")
        return self.postgres_dsn

    def postgres_sqlalchemy_url(self) -> str:
        """The DSN for SQLAlchemy-based readers (Great Expectations) with the psycopg 3 driver."""
        uri = self.postgres_uri()
        for prefix in ("postgresql://", "postgres://"):
            if uri.startswith(prefix):
                return "postgresql+psycopg://" + uri[len(prefix) :]
        return uri
