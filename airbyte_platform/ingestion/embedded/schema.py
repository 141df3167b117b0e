"""Destination columns from a stream's discovered JSON schema, the way Airbyte's typed destinations map them.

Types come from the schema rather than from the data, so a column that is empty or all-null in a
sync still has its declared type (and the same type in every file of the lake). Nested objects,
arrays and unions are kept whole as JSON text in Parquet and `jsonb` in PostgreSQL, as Airbyte's
destinations do, instead of guessing a flattening. Every row also carries Airbyte's metadata
columns: `_airbyte_raw_id`, `_airbyte_extracted_at` and `_airbyte_meta` (which values could not be
typed, and fields the schema does not declare, so nothing the connector sent is lost).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from airbyte_platform.core.lake import EXTRACTED_AT  # the column readers order versions by

ColumnKind = Literal[
    "integer", "number", "boolean", "string", "json", "timestamp_tz", "timestamp", "date", "uuid"
]

RAW_ID = "_airbyte_raw_id"
META = "_airbyte_meta"

_ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "json": pa.string(),  # JSON text: readable by every Parquet reader (Spark, DuckDB, pandas)
    "timestamp_tz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "uuid": pa.string(),  # Spark cannot read Parquet's UUID logical type; Airbyte's S3 destination writes text
}

_POSTGRES_TYPES: dict[str, str] = {
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "string": "text",
    "json": "jsonb",
    "timestamp_tz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "date": "date",
    "uuid": "uuid",
}


class SchemaError(ValueError):
    pass


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.kind]

    @property
    def postgres_type(self) -> str:
        return _POSTGRES_TYPES[self.kind]


AIRBYTE_COLUMNS: tuple[Column, ...] = (
    Column(RAW_ID, "uuid"),
    Column(EXTRACTED_AT, "timestamp_tz"),
    Column(META, "json"),
)


def column_kind(property_schema: Mapping[str, Any]) -> ColumnKind:
    """The column kind of one JSON-schema property (`{"type": ["null", "string"], "format": "date-time"}`)."""
    declared = property_schema.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    types = [t for t in types if t != "null"]
    if len(types) != 1:
        # untyped, `anyOf`/`oneOf`, `$ref`, or a union: keep the value whole.
        return "number" if types and set(types) <= {"integer", "number"} else "json"
    kind = types[0]
    airbyte_type = property_schema.get("airbyte_type")
    if kind == "integer" or (kind == "number" and airbyte_type == "integer"):
        return "integer"
    if kind == "number":
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "string":
        string_format = property_schema.get("format")
        if string_format == "date-time":
            return "timestamp" if airbyte_type == "timestamp_without_timezone" else "timestamp_tz"
        if string_format == "date":
            return "date"
        return "string"
    return "json"  # object, array


def columns_from_json_schema(json_schema: Mapping[str, Any], stream: str) -> tuple[Column, ...]:
    """The data columns of a stream, in the schema's property order."""
    properties = json_schema.get("properties")
    if not isinstance(properties, Mapping) or not properties:
        raise SchemaError(f"stream {stream!r}: the discovered JSON schema declares no properties")
    reserved = {column.name for column in AIRBYTE_COLUMNS}
    clashes = sorted(reserved & set(properties))
    if clashes:
        raise SchemaError(f"stream {stream!r}: fields {clashes} clash with Airbyte's metadata columns")
    return tuple(Column(str(name), column_kind(spec or {})) for name, spec in properties.items())


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """Airbyte's metadata columns first (as Airbyte's destinations lay them out), then the data columns."""
    return pa.schema([pa.field(column.name, column.arrow_type) for column in (*AIRBYTE_COLUMNS, *columns)])
