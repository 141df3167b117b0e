"""A stream's fields, declared once: they give both its JSON schema (for `discover`) and the
`%`-template its RECORD lines are rendered with (for `read`), so the two cannot disagree.

Rendering a record is one `template % values` call: constant fields are JSON text baked into the
template, and each varying field reads one column of per-record values. That is several times
faster than building a dict per record and serializing it, which is what lets a sample source
emit hundreds of thousands of records per second.

Column values, per field kind:
- a quoted field (non-nullable `string`, or `quote=True`: declared nullable like the real
  connector's schema, but always set in the samples): the plain text, which must need no JSON
  escaping (generated from ASCII vocabularies; every test parses every line);
- non-nullable `integer` / `number`: Python ints / floats (finite);
- anything else (nullable, `boolean`, `array`, free-form `object`, `as_json` objects): ready JSON
  text (`"x"`, `null`, `true`, `[1]`) — see `json_text`, `json_bools`, `nullable`;
- an `object` declared with `fields` is templated from its own fields' columns, unless `as_json`:
  then its column holds the whole object as JSON text (typically picked from a precomputed table
  of variants, which costs one placeholder instead of one per property).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from airbyte_platform.ingestion.sample_sources.lazy import numpy as np

JsonType = Literal["string", "integer", "number", "boolean", "object", "array"]


class _Varying:
    def __repr__(self) -> str:
        return "<varying>"


VARYING: Any = _Varying()


@dataclass(frozen=True)
class Field:
    name: str
    type: JsonType
    nullable: bool = False
    format: str | None = None  # "date-time", "date"
    airbyte_type: str | None = None  # "timestamp_with_timezone", ...
    const: Any = VARYING  # the same value in every record (None: always null)
    column: str | None = None  # the column feeding this field (default: its name)
    fields: tuple[Field, ...] = ()  # an object's properties, templated from their own columns
    items: JsonType | None = None  # an array's item type
    quote: bool | None = None  # the template quotes the column's text (default: non-nullable strings)
    as_json: bool = False  # an object whose column holds it as JSON text; `fields` give its schema

    @property
    def column_name(self) -> str:
        return self.column or self.name

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["null", self.type] if self.nullable else self.type}
        if self.format:
            schema["format"] = self.format
        if self.airbyte_type:
            schema["airbyte_type"] = self.airbyte_type
        if self.fields:
            schema["properties"] = {f.name: f.json_schema() for f in self.fields}
        if self.items:
            schema["items"] = {"type": self.items}
        return schema

    def template(self) -> tuple[str, list[str]]:
        """This field's value as `%`-template text, and the columns its placeholders read, in order."""
        if self.const is not VARYING:
            return orjson.dumps(self.const).decode().replace("%", "%%"), []
        if self.fields and not self.as_json:
            return object_template(self.fields)
        if self.quote if self.quote is not None else (self.type == "string" and not self.nullable):
            return '"%s"', [self.column_name]
        return "%s", [self.column_name]


def object_template(fields: Sequence[Field]) -> tuple[str, list[str]]:
    """`{"a":%s,"b":"%s"}` for `fields`, and the columns its placeholders read."""
    parts: list[str] = []
    columns: list[str] = []
    for field in fields:
        text, used = field.template()
        parts.append(f"{orjson.dumps(field.name).decode()}:{text}")
        columns += used
    return "{" + ",".join(parts) + "}", columns


def properties_schema(fields: Sequence[Field]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": True,
        "properties": {field.name: field.json_schema() for field in fields},
    }


# ------------------------------------------------------------------------- column value helpers


def json_text(values: Iterable[Any]) -> list[str]:
    """Each value as JSON text (for nullable fields, arrays, free-form objects)."""
    return [orjson.dumps(value).decode() for value in values]


def json_bools(mask: np.ndarray) -> list[str]:
    return np.where(mask, "true", "false").tolist()


def nullable(values: Sequence[Any] | np.ndarray, present: np.ndarray, *, quoted: bool = True) -> list[str]:
    """JSON text of `values`, or `null` where `present` is False; strings are quoted unless `quoted=False`."""
    if quoted:
        return [
            f'"{value}"' if keep else "null" for value, keep in zip(values, present.tolist(), strict=True)
        ]
    return [str(value) if keep else "null" for value, keep in zip(values, present.tolist(), strict=True)]


def quoted(values: Iterable[Any]) -> list[str]:
    """JSON text of always-present strings of a nullable field (plain ASCII, as for non-nullable ones)."""
    return [f'"{value}"' for value in values]
