"""Moving frames into Snowflake: Parquet, PUT to a temporary stage, COPY INTO a table we declare.

Not the connector's `write_pandas`: with `overwrite=True` it asks the server to `INFER_SCHEMA` and
copies from a quoted stage subquery, neither of which fakesnow's server mode understands, so the prod
path could not be run anywhere but on Snowflake. The statements here are the same bulk-load
primitives (`PUT`, `COPY INTO ... MATCH_BY_COLUMN_NAME`), with column types declared from the frame's
Arrow schema instead of inferred by the server; they run unchanged on Snowflake, on fakesnow's
patched connector (local mode) and on fakesnow's server through the real connector (tests).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from snowflake.connector.constants import FIELD_ID_TO_NAME


def snowflake_type(arrow_type: pa.DataType) -> str:
    """The Snowflake column type for an Arrow type (what Parquet carries to COPY INTO)."""
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "NUMBER(38,0)"
    if pa.types.is_floating(arrow_type):
        return "FLOAT"
    if pa.types.is_decimal(arrow_type):
        return f"NUMBER({min(arrow_type.precision, 38)},{arrow_type.scale})"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
        return "VARCHAR"  # an all-null column has no type of its own
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP_TZ" if arrow_type.tz else "TIMESTAMP_NTZ"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "BINARY"
    return "VARIANT"  # lists, structs, maps


def replace_table(connection: Any, table: str, frame: pd.DataFrame) -> int:
    """Replace `table` with `frame` (upper-case column names, as Snowflake folds them); returns rows.

    The rows land in `<table>__LOADING` first, which then takes the table's place, so a failed load
    leaves the previous table as it was.
    """
    arrow = pa.Table.from_pandas(frame.rename(columns=str.upper), preserve_index=False)
    # Quoted: upper-case names mean the same as unquoted ones, and reserved words (AT, ORDER) work.
    columns = ", ".join(f"{_quoted(field.name)} {snowflake_type(field.type)}" for field in arrow.schema)
    loading = f"{table}__LOADING"
    cursor = connection.cursor()
    try:
        cursor.execute(f"CREATE OR REPLACE TABLE {loading} ({columns})")
        rows = _copy_into(cursor, loading, arrow) if arrow.num_rows else 0
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"ALTER TABLE {loading} RENAME TO {table}")
    finally:
        cursor.close()
    return rows


def _copy_into(cursor: Any, table: str, arrow: pa.Table) -> int:
    # A temporary stage per load: it disappears with the session, and PURGE removes the file.
    stage = f"LOAD_{uuid.uuid4().hex[:16].upper()}"
    cursor.execute(f"CREATE TEMPORARY STAGE {stage}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{table.lower()}.parquet"
        pq.write_table(arrow, path, coerce_timestamps="us", allow_truncated_timestamps=True)
        cursor.execute(f"PUT 'file://{path.as_posix()}' @{stage} AUTO_COMPRESS=FALSE")
    cursor.execute(
        f"COPY INTO {table} FROM @{stage} FILE_FORMAT=(TYPE=PARQUET USE_LOGICAL_TYPE=TRUE) "
        "MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE PURGE=TRUE"
    )
    # One row per file: (file, status, rows_parsed, rows_loaded, ...).
    results = [row for row in cursor.fetchall() if len(row) > 3]
    if not results or any(row[1] != "LOADED" for row in results):
        raise RuntimeError(f"COPY INTO {table} did not load the staged file: {results}")
    return sum(int(row[3]) for row in results)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def count_rows(connection: Any, table: str) -> int:
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def table_schema(connection: Any, table: str) -> list[tuple[str, str]]:
    """(column, Snowflake type name) of `table`."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"SELECT * FROM {table} LIMIT 0")
        return [
            (column.name, FIELD_ID_TO_NAME.get(column.type_code, str(column.type_code)))
            for column in cursor.description
        ]
    finally:
        cursor.close()
