"""Snowflake loading through dagster-snowflake's resource and the real connector, on fakesnow."""

from __future__ import annotations

import pandas as pd

from airbyte_platform.transforms.snowflake.loading import count_rows, replace_table
from airbyte_platform.transforms.snowflake.local_snowflake import LocalSnowflakeResource


def _resource(tmp_path) -> LocalSnowflakeResource:
    return LocalSnowflakeResource(
        account="local",
        user="dagster",
        password="local",
        database="ANALYTICS",
        schema_name="PUBLIC",
        db_path=str(tmp_path),
    )


def test_tables_persist_between_connections_and_are_replaced(tmp_path):
    resource = _resource(tmp_path)
    with resource.get_connection() as connection:
        assert replace_table(connection, "T", pd.DataFrame({"a": [1, 2, 3]})) == 3
    with resource.get_connection() as connection:
        assert count_rows(connection, "T") == 3
        assert replace_table(connection, "T", pd.DataFrame({"a": [9]})) == 1
        cursor = connection.cursor()
        cursor.execute("SELECT A FROM T")
        assert cursor.fetchall() == [(9,)]
