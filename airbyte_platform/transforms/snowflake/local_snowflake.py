"""Local Snowflake: the same resource, with its connections served by fakesnow.

fakesnow patches `snowflake.connector.connect`, so everything above it — dagster-snowflake's
`SnowflakeResource`, cursors, the PUT/COPY INTO of loading.py — is the real code path of prod; only
the engine underneath is DuckDB. (The prod resource itself is tested against fakesnow's server mode,
through the real connector: airbyte_platform_tests/transforms/test_snowflake_prod.py.)
The DuckDB file under `.local/` keeps tables between runs; a DuckDB file has one writer process
at a time, hence the `snowflake` pool on every Snowflake asset (dagster.yaml limits it to 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field

from airbyte_platform.transforms.snowflake.resource import SnowflakeWarehouseResource


class LocalSnowflakeResource(SnowflakeWarehouseResource):
    db_path: str = Field(description="Folder of fakesnow's DuckDB files (one per Snowflake database).")

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        import fakesnow  # local only: imported by the steps that open a connection

        Path(self.db_path).mkdir(parents=True, exist_ok=True)
        with fakesnow.patch(db_path=self.db_path), super().get_connection() as connection:
            yield connection
