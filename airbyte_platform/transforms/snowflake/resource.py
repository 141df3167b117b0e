"""The `snowflake` resource: dagster-snowflake's `SnowflakeResource`, built in the step that uses it.

Why a wrapper rather than binding `dagster_snowflake.SnowflakeResource` directly: importing
`dagster_snowflake` runs its package `__init__`, which imports its components and with them
`snowflake.core` and Snowpark — 6.6 s measured here. Every process that imports the code location
(the code server, each run worker, each step of the multiprocess executor) paid it, including the
steps that never touch Snowflake. The fields are the ones of dagster-snowflake's resource; the
connection is still opened by `SnowflakeResource.get_connection`, so auth, retries and the real
`snowflake-connector-python` stay dagster-snowflake's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from dagster_snowflake import SnowflakeResource


class SnowflakeWarehouseResource(dg.ConfigurableResource):
    """Connections to the Snowflake that holds the analytics tables."""

    account: str = Field(description="SNOWFLAKE_ACCOUNT")
    user: str = Field(description="SNOWFLAKE_USER")
    password: str | None = Field(default=None, description="SNOWFLAKE_PASSWORD (secret, via EnvVar)")
    warehouse: str | None = Field(default=None, description="SNOWFLAKE_WAREHOUSE")
    database: str | None = Field(default=None, description="SNOWFLAKE_DATABASE")
    schema_name: str | None = Field(default=None, description="SNOWFLAKE_SCHEMA")
    role: str | None = Field(default=None, description="SNOWFLAKE_ROLE")
    connection_args: dict[str, Any] | None = Field(
        default=None,
        description="Passed to snowflake.connector.connect as they are (SNOWFLAKE_HOST/PORT/PROTOCOL).",
    )

    def dagster_resource(self) -> SnowflakeResource:
        from dagster_snowflake import SnowflakeResource

        return SnowflakeResource(
            account=self.account,
            user=self.user,
            password=self.password,
            warehouse=self.warehouse,
            database=self.database,
            schema=self.schema_name,
            role=self.role,
            additional_snowflake_connection_args=self.connection_args,
        )

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        """A raw `snowflake.connector` connection, closed on exit (dagster-snowflake's)."""
        with self.dagster_resource().get_connection(raw_conn=True) as connection:
            yield connection
