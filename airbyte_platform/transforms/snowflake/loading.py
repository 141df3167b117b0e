"""Moving frames into Snowflake with the connector's own `write_pandas`."""

from __future__ import annotations

from typing import Any

import pandas as pd
from snowflake.connector import pandas_tools


def replace_table(connection: Any, table: str, frame: pd.DataFrame) -> int:
    """Replace `table` with `frame` (upper-case column names, as Snowflake folds them); returns rows."""
    frame = frame.rename(columns=str.upper)
    # Looked up at call time so fakesnow's patch of pandas_tools.write_pandas applies locally.
    success, _, rows, _ = pandas_tools.write_pandas(
        connection, frame, table_name=table, auto_create_table=True, overwrite=True, quote_identifiers=False
    )
    if not success:
        raise RuntimeError(f"write_pandas into {table} reported failure")
    return int(rows)


def count_rows(connection: Any, table: str) -> int:
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def table_schema(connection: Any, table: str) -> list[tuple[str, str]]:
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT * FROM {table} LIMIT 0")
        return [(column.name, str(column.type_code)) for column in cursor.description]
    finally:
        cursor.close()
