"""Records of a deduplicated stream that have no usable primary key.

A deduplicated stream keeps one row per primary key. A record whose key field is missing, null, or
could not be typed (kept in `_airbyte_meta` as a NULLED change) has no key to match on: merging it
with other such records would silently drop rows (PostgreSQL's DISTINCT ON treats NULLs as equal).
Such records are kept as they come, never merged, and flagged: `_airbyte_meta.primary_key_missing`
lists the key fields that were null. The sync counts them, logs an example and reports the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from airbyte_platform.ingestion.embedded.protocol import dumps
from airbyte_platform.ingestion.embedded.schema import AIRBYTE_COLUMNS, META

EXAMPLE_CHARS = 300
_AIRBYTE_NAMES = frozenset(column.name for column in AIRBYTE_COLUMNS)


@dataclass
class KeylessRecords:
    """What one sync saw of a stream's records without a usable primary key."""

    count: int = 0
    example: str | None = None  # the first such record (data fields, JSON, truncated)
    fields: set[str] = field(default_factory=set)  # key fields found null

    def describe(self, stream: str, primary_key: tuple[str, ...]) -> str:
        return (
            f"stream {stream}: {self.count:,} records without a usable primary key ({', '.join(primary_key)}) "
            "were kept without deduplication and flagged in _airbyte_meta.primary_key_missing; "
            f"e.g. {self.example}"
        )


def flag_keyless(batch: pa.RecordBatch, primary_key: tuple[str, ...], seen: KeylessRecords) -> pa.RecordBatch:
    """`batch` with `_airbyte_meta.primary_key_missing` set on rows whose key has a null field."""
    nulls = [pc.is_null(batch.column(name)) for name in primary_key]
    missing = nulls[0]
    for other in nulls[1:]:
        missing = pc.or_(missing, other)
    count = missing.true_count
    if count == 0:
        return batch
    meta_index = batch.schema.get_field_index(META)
    metas = batch.column(meta_index).to_pylist()
    null_fields = [mask.to_pylist() for mask in nulls]
    for row in pc.indices_nonzero(missing).to_pylist():
        fields = [name for name, mask in zip(primary_key, null_fields, strict=True) if mask[row]]
        meta = orjson.loads(metas[row]) if metas[row] is not None else {}
        meta["primary_key_missing"] = fields
        metas[row] = dumps(meta)
        seen.fields.update(fields)
        if seen.example is None:
            data = {k: v for k, v in batch.slice(row, 1).to_pylist()[0].items() if k not in _AIRBYTE_NAMES}
            seen.example = dumps(data)[:EXAMPLE_CHARS]
    seen.count += count
    return batch.set_column(meta_index, batch.schema.field(meta_index), pa.array(metas, pa.string()))
