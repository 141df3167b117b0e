"""Local Snowflake: dagster-snowflake's resource, with its connections served by fakesnow.

fakesnow patches `snowflake.connector.connect`, so everything above it — `SnowflakeResource`,
cursors, the PUT/COPY INTO of loading.py — is the real code path of prod; only the engine underneath
is DuckDB. (The prod resource itself is tested against fakesnow's server mode, through the real
connector: airbyte_platform_tests/transforms/test_snowflake_prod.py.)
The DuckDB file under `.local/` keeps tables between runs; a DuckDB file has one writer process
at a time, hence the `snowflake` pool on every Snowflake asset (dagster.yaml limits it to 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fakesnow
from dagster_snowflake import SnowflakeResource
from pydantic import Field


class LocalSnowflakeResource(SnowflakeResource):
    db_path: str = Field(description="Folder of fakesnow's DuckDB files (one per Snowflake database).")

    @contextmanager
    def get_connection(self, raw_conn: bool = True) -> Iterator[Any]:
        Path(self.db_path).mkdir(parents=True, exist_ok=True)
        with fakesnow.patch(db_path=self.db_path), super().get_connection(raw_conn=raw_conn) as connection:
            yield connection
