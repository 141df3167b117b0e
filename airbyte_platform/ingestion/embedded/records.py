"""Buffer a stream's records and turn them into typed Arrow record batches.

Records are buffered as tuples of their values and converted one column at a time: pyarrow converts
a well-typed Python sequence in C++, so the common case costs one C-level call per column. Only a
column holding a value of the wrong type (a string in an integer column, a naive timestamp, a float
with a fraction in an integer column) takes the per-value path; such a value becomes NULL and the
original is kept in `_airbyte_meta`, like Airbyte's typed destinations do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from airbyte_platform.ingestion.embedded.protocol import dumps
from airbyte_platform.ingestion.embedded.schema import Column, arrow_schema

_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    TypeError,
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DASHES = (8, 13, 18, 23)

Change = tuple[int, str, Any]  # (row index, field, original value)


class StreamBuffer:
    """The records of one stream not yet written; `drain()` empties it into one record batch.

    Each record's values are pulled out as a tuple when it arrives, while its freshly parsed dict
    is still in the CPU cache (one C-level `itemgetter` call), and `drain` transposes the tuples
    into columns: measured ~40% cheaper than keeping the dicts and walking them once per column.
    """

    def __init__(self, stream: str, columns: tuple[Column, ...], *, max_rows: int, max_bytes: int):
        self.stream = stream
        self.columns = columns
        self.schema = arrow_schema(columns)
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.rows: list[tuple[Any, ...]] = []
        self.emitted_at: list[Any] = []
        self.extras: dict[int, dict[str, Any]] = {}  # row index -> fields the schema does not declare
        self.bytes = 0  # buffered
        self.records = 0  # ever added
        self.bytes_read = 0  # ever added
        self._names = tuple(column.name for column in columns)
        self._declared = frozenset(self._names)
        getter = itemgetter(*self._names)
        self._values: Callable[[dict[str, Any]], tuple[Any, ...]] = (
            getter if len(self._names) > 1 else lambda data: (getter(data),)
        )
        self.undeclared_fields: set[str] = set()  # every undeclared field seen, for one warning per sync

    def add(self, data: dict[str, Any], emitted_at: Any, size: int) -> bool:
        """Buffer one record; True when the buffer is full and should be drained."""
        try:
            values = self._values(data)
            complete = True
        except KeyError:  # a record may omit fields (often the null ones)
            values = tuple(map(data.get, self._names))
            complete = False
        if len(data) > len(self._names) or (not complete and not data.keys() <= self._declared):
            extra = {key: value for key, value in data.items() if key not in self._declared}
            self.extras[len(self.rows)] = extra
            self.undeclared_fields.update(extra)
        self.rows.append(values)
        self.emitted_at.append(emitted_at)
        self.bytes += size
        self.bytes_read += size
        self.records += 1
        return len(self.rows) >= self.max_rows or self.bytes >= self.max_bytes

    def __len__(self) -> int:
        return len(self.rows)

    def count_typed(self, records: int, size: int) -> None:
        """Count records that were typed elsewhere (in bulk, see `bulk.py`) and never buffered here."""
        self.records += records
        self.bytes_read += size

    def drain(self) -> pa.RecordBatch:
        rows, emitted_at, extras = self.rows, self.emitted_at, self.extras
        self.rows, self.emitted_at, self.extras, self.bytes = [], [], {}, 0
        count = len(rows)
        changes: list[Change] = []
        by_column = zip(*rows, strict=True) if rows else ((),) * len(self.columns)
        data_arrays = [
            _to_arrow(column, values, changes) for column, values in zip(self.columns, by_column, strict=True)
        ]
        meta = _meta_column(count, changes, extras)
        arrays = [random_uuid_strings(count), _extracted_at(emitted_at), meta, *data_arrays]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def random_uuid_strings(count: int) -> pa.Array:
    """`count` random (version 4) UUIDs as text, built with numpy: `uuid.uuid4()` per row costs ~2 us."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hex_digits = np.empty((count, 32), dtype=np.uint8)
    hex_digits[:, 0::2] = _HEX[raw >> 4]
    hex_digits[:, 1::2] = _HEX[raw & 0x0F]
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    text[:, [i for i in range(36) if i not in _UUID_DASHES]] = hex_digits
    offsets = np.arange(0, 36 * (count + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


def _extracted_at(emitted_at: list[Any]) -> pa.Array:
    """Airbyte's `_airbyte_extracted_at`: the record's `emitted_at` (epoch milliseconds)."""
    try:
        millis = pa.array(emitted_at, pa.int64())
    except _CONVERSION_ERRORS:
        now = int(datetime.now(UTC).timestamp() * 1000)
        millis = pa.array([int(v) if isinstance(v, int | float) else now for v in emitted_at], pa.int64())
    return extracted_at(millis)


def extracted_at(millis: pa.Array) -> pa.Array:
    """`_airbyte_extracted_at` from the records' `emitted_at` as int64 epoch milliseconds."""
    return millis.cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us", tz="UTC"))


def _to_arrow(column: Column, values: Sequence[Any], changes: list[Change]) -> pa.Array:
    fast = _FAST_PATHS[column.kind]
    try:
        converted = fast(values, column.arrow_type)
    except _CONVERSION_ERRORS:
        converted = None
    if converted is not None:
        return converted
    coerce = _COERCIONS[column.kind]
    coerced: list[Any] = []
    for index, value in enumerate(values):
        if value is None:
            coerced.append(None)
            continue
        try:
            coerced.append(coerce(value))
        except (ValueError, TypeError, OverflowError):
            coerced.append(None)
            changes.append((index, column.name, value))
    return pa.array(coerced, column.arrow_type)


def _typed(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    """One C++ pass that converts and checks: a value of another type raises (a number in a text column).

    Much faster than letting pyarrow infer first (measured 41 vs 1214 ns per distinct string).
    """
    return pa.array(values, arrow_type)


def _integers(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array | None:
    """Inferred, not typed: `pa.array([1.5], pa.int64())` silently truncates 1.5 to 1."""
    array = pa.array(values)
    if array.type == arrow_type:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(values), arrow_type)
    return None


def _json_text(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    encode = orjson.dumps  # bytes: pyarrow takes them as UTF-8 text without a decode per value
    return pa.array([None if value is None else encode(value) for value in values], arrow_type)


def _parsed_strings(values: Sequence[Any], arrow_type: pa.DataType) -> pa.Array:
    """ISO-8601 text parsed in C++; a naive or malformed value sends the column to the per-value path."""
    return parse_timestamps(pa.array(values, pa.string()), arrow_type)


def parse_timestamps(text: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    """ISO-8601 text to a timestamp or date column (Arrow's parser); raises on a value it cannot read."""
    return pc.cast(text, arrow_type)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("boolean in an integer column")
    number = int(value) if isinstance(value, int | str) else value
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueError("fraction in an integer column")
        number = int(number)
    if not isinstance(number, int) or not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError("not a 64-bit integer")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("boolean in a number column")
    return float(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("not a boolean")


def _to_string(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)


def _to_datetime(value: Any, aware: bool) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, UTC)  # epoch seconds
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        raise TypeError("not a timestamp")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a naive timestamp is taken as UTC, as Airbyte does
    parsed = parsed.astimezone(UTC)
    return parsed if aware else parsed.replace(tzinfo=None)


def _to_date(value: Any) -> date:
    if not isinstance(value, str):
        raise TypeError("not a date")
    return date.fromisoformat(value[:10])


_FAST_PATHS: dict[str, Callable[[Sequence[Any], pa.DataType], pa.Array | None]] = {
    "integer": _integers,
    "number": _typed,  # takes integers too (exact up to 2**53), and booleans as 0/1
    "boolean": _typed,
    "string": _typed,
    "uuid": _typed,
    "json": _json_text,
    "timestamp_tz": _parsed_strings,
    "timestamp": _parsed_strings,
    "date": _parsed_strings,
}

_COERCIONS: dict[str, Callable[[Any], Any]] = {
    "integer": _to_int,
    "number": _to_float,
    "boolean": _to_bool,
    "string": _to_string,
    "uuid": _to_string,
    "json": dumps,
    "timestamp_tz": lambda value: _to_datetime(value, aware=True),
    "timestamp": lambda value: _to_datetime(value, aware=False),
    "date": _to_date,
}


def _meta_column(count: int, changes: list[Change], extras: dict[int, dict[str, Any]]) -> pa.Array:
    """`_airbyte_meta`: NULL for a clean row, else the values that were nulled and the undeclared fields."""
    if not changes and not extras:
        return pa.nulls(count, pa.string())
    meta: dict[int, dict[str, Any]] = {
        index: {"additional_properties": extra} for index, extra in extras.items()
    }
    for index, field, original in changes:
        meta.setdefault(index, {}).setdefault("changes", []).append(
            {
                "field": field,
                "change": "NULLED",
                "reason": "DESTINATION_SERIALIZATION_ERROR",
                "original": original,
            }
        )
    return pa.array([dumps(meta[index]) if index in meta else None for index in range(count)], pa.string())
