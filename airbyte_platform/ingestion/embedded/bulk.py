"""Type a block of a connector's output in C++ (DuckDB's JSON functions) instead of record by record.

The per-record path (`records.StreamBuffer`: orjson, a dict and a tuple per record, nested objects
re-serialized one value at a time) costs about twice what the sample Stripe source spends emitting
a record, so a sync of a fast connector would be bound by our parsing rather than by the
connector. This path hands a block of lines (several MB) to DuckDB (installed with fakesnow; without
it every block takes the per-record path), whose `json_transform_strict` extracts every declared
field of every record in one C++ pass, then types the columns with Arrow kernels. Both run without
the GIL, on the read loop's worker threads.

It is a fast path, never a second set of rules: it accepts a block only if it can type every record
as the per-record path would, and returns None otherwise (a malformed or blank line, an undeclared
field, a value of another JSON type than its column, a record of a stream not selected, ...). The
read loop then runs that block through the per-record path, which produces the batches (with
`_airbyte_meta`) and the errors. What an accepted block guarantees:
- every line is one JSON document; `type` is compared with "RECORD" and `record.stream` with the
  selected streams' names as in the per-record path (other messages are left to the read loop);
- a record's `data` is an object whose keys are all declared, none twice (`json_keys`);
- values are read as text (a JSON string's own text, any other value's JSON text) and converted
  strictly: integers are decimal integers within int64, numbers finite, booleans `true`/`false`,
  dates and timestamps what the per-record path's own Arrow cast parses. A JSON string holding a
  number or boolean ("7", "true") converts as the per-record path coerces it; a string column
  keeps another value's JSON text, as the per-record path does (spelled by orjson there). JSON
  columns keep compact JSON text, which may spell numbers and escapes differently from orjson
  (the same value). NaN and Infinity (not JSON; the per-record path writes null) decline a block.
So `_airbyte_meta` is null on every row of an accepted block.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from airbyte_platform.ingestion.embedded.destination import StreamPlan
from airbyte_platform.ingestion.embedded.records import extracted_at, parse_timestamps, random_uuid_strings
from airbyte_platform.ingestion.embedded.schema import Column, arrow_schema

try:
    import duckdb
except ImportError:  # pragma: no cover - DuckDB comes with fakesnow
    duckdb = None

# Below this size a block goes the per-record way: DuckDB's fixed cost per query (~3-5 ms here for a
# structure of ~50 fields) would outweigh what it saves on a few hundred records.
MIN_BULK_BYTES = 1 << 20
# NaN and Infinity are not JSON, but Python's json module (the per-record path's fallback parser)
# reads NaN, Infinity and -Infinity, and DuckDB reads any spelling of nan and inf, keeping it as
# written. In compact JSON text such a literal follows `:`, `,` or `[` (or starts the value); in a
# string column it is the whole text. Strings that merely look so send a block the slower way.
_BARE_LITERAL_IN_JSON = r"(?:^|[:,\[])-?(?:[iI]|[nN][aA])"
_BARE_LITERAL_STRING = r"^-?(?i:nan|inf|infinity)$"


@dataclass(frozen=True)
class BulkBlock:
    """A block typed in bulk: one record batch per stream that has records in it, in emission order."""

    batches: dict[str, pa.RecordBatch]
    record_bytes: dict[str, int]  # bytes of the streams' RECORD lines (without newlines)
    line_count: int
    # Per line: the position in `streams` of a record's stream, or -1 for another message.
    line_streams: np.ndarray
    streams: tuple[str, ...]
    others: list[bytes]  # the other messages' lines, in order (STATE, LOG, TRACE, ...)
    other_positions: np.ndarray  # their line indices in the block


class BulkParser:
    """Types blocks of output lines for the selected streams; each thread gets its own DuckDB."""

    def __init__(self, plans: Sequence[StreamPlan]):
        self.plans = {plan.name: plan for plan in plans}
        self.streams = tuple(self.plans)
        self.schemas = {plan.name: arrow_schema(plan.columns) for plan in plans}
        # A stream name as DuckDB spells it in JSON: a plain name as orjson does (another spelling only
        # sends its blocks the per-record way).
        self._json_names = {name: orjson.dumps(name).decode() for name in self.streams}
        self._markers = {
            name: tuple(f'"stream":{sep}{spelled}'.encode() for sep in ("", " "))
            for name, spelled in self._json_names.items()
        }
        self._strict_sql = {name: _strict_sql(self.plans[name].columns) for name in self.streams}
        self._lenient_sql = _lenient_sql(
            {self._json_names[name]: self.plans[name].columns for name in self.streams}
        )
        # Fields two streams declare with other kinds: the lenient query reads them as JSON text.
        kinds: dict[str, set[str]] = {}
        for plan in plans:
            for column in plan.columns:
                kinds.setdefault(column.name, set()).add(column.kind)
        self._conflicts = frozenset(name for name, found in kinds.items() if len(found) > 1)
        self._local = threading.local()
        self._connections: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def available(self) -> bool:
        return duckdb is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def _connection(self) -> duckdb.DuckDBPyConnection | None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            with self._lock:
                if self._closed:
                    return None
                # One thread per connection: parallelism comes from the read loop's worker threads.
                connection = duckdb.connect(":memory:", config={"threads": 1})
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    def warm_up(self) -> None:
        """Open this thread's DuckDB and run the query once on a tiny block (first runs are slow)."""
        line = orjson.dumps({"type": "RECORD", "record": {"stream": self.streams[0], "data": {}}}) + b"\n"
        self.parse(memoryview(line))

    def parse(self, block: memoryview) -> BulkBlock | None:
        """Type `block` (whole lines, each ending with a newline), or None if it needs the per-record path."""
        connection = self._connection() if duckdb is not None else None
        if connection is None:
            return None
        data = block.obj if isinstance(block.obj, bytes | bytearray) else bytes(block)
        size = block.nbytes  # `block` starts at the start of `data`
        offsets = _line_offsets(data, size)
        count = len(offsets) - 1
        # Each value keeps its newline (trailing whitespace to a JSON parser): no copy of the block.
        lines = pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(block))
        try:
            lines.validate(full=True)  # UTF-8, as the per-record path's parsers require
        except pa.ArrowInvalid:
            return None
        # A block of one stream's records (the usual case: connectors emit stream by stream) gets the
        # strict query. The marker is only a hint: the query checks every record's stream.
        present = [
            name for name in self.streams if any(data.find(m, 0, size) >= 0 for m in self._markers[name])
        ]
        messages = None
        if len(present) == 1:
            result = _run(connection, self._strict_sql[present[0]], lines)
            if result is None:
                return None
            messages, is_record, fits = _strict_outcome(
                result, len(self.plans[present[0]].columns), self._json_names[present[0]]
            )
        lenient = messages is None
        if lenient:  # several streams, or a record the strict transform rejects
            result = _run(connection, self._lenient_sql, lines)
            if result is None:
                return None
            messages = result.column("m").combine_chunks()
            is_record = pc.fill_null(pc.equal(messages.field("type"), "RECORD"), False)
            fits = result.column("fits").combine_chunks()
        record_fits = pc.filter(fits, is_record)
        if record_fits.null_count or not pc.all(record_fits).as_py():
            return None
        record = messages.field("record")
        json_streams = record.field("stream")
        line_streams = np.full(count, -1, dtype=np.int32)
        batches: dict[str, pa.RecordBatch] = {}
        record_bytes: dict[str, int] = {}
        sizes = np.diff(offsets) - 1  # without the newline, as the per-record path counts
        matched = 0
        for position, name in enumerate(self.streams):
            mask = pc.and_(is_record, pc.fill_null(pc.equal(json_streams, self._json_names[name]), False))
            rows = mask.to_numpy(zero_copy_only=False)
            selected = int(np.count_nonzero(rows))
            if not selected:
                continue
            matched += selected
            line_streams[rows] = position
            batch = self._batch(name, record if selected == count else record.filter(mask), lenient)
            if batch is None:
                return None
            batches[name] = batch
            record_bytes[name] = int(sizes[rows].sum())
        if matched != pc.sum(is_record).as_py():
            return None  # a record of a stream that is not selected: the per-record path fails the sync
        other_positions = np.flatnonzero(line_streams == -1)
        others = [bytes(block[offsets[i] : offsets[i + 1] - 1]) for i in other_positions.tolist()]
        return BulkBlock(
            batches=batches,
            record_bytes=record_bytes,
            line_count=count,
            line_streams=line_streams,
            streams=self.streams,
            others=others,
            other_positions=other_positions,
        )

    def _batch(self, stream: str, records: pa.StructArray, lenient: bool) -> pa.RecordBatch | None:
        data = records.field("data")
        count = len(records)
        arrays: list[pa.Array] = []
        for column in self.plans[stream].columns:
            if lenient and column.name in self._conflicts and column.kind in _STRING_KINDS:
                return None  # read as JSON text for the other stream: the per-record path types it
            typed = _typed(column, data.field(column.name))
            if typed is None:
                return None
            arrays.append(typed)
        try:
            emitted = pc.cast(records.field("emitted_at"), pa.int64())
        except pa.ArrowInvalid:
            return None
        prefix = [random_uuid_strings(count), extracted_at(emitted), pa.nulls(count, pa.string())]
        return pa.RecordBatch.from_arrays([*prefix, *arrays], schema=self.schemas[stream])


def _run(connection: duckdb.DuckDBPyConnection, sql: str, lines: pa.Array) -> pa.Table | None:
    try:
        connection.register("lines", pa.table({"line": lines}))
        try:
            return connection.sql(sql).to_arrow_table()
        finally:
            connection.unregister("lines")
    except duckdb.Error:
        return None  # malformed somewhere: the per-record path says where and how


def _strict_outcome(
    result: pa.Table, declared: int, stream: str
) -> tuple[pa.StructArray | None, pa.Array, pa.Array]:
    """(messages, is_record, fits) of the strict query for `stream` (its name as JSON), or messages
    None if the block needs the lenient query."""
    messages = result.column("m").combine_chunks()
    strict = messages.is_valid()
    other_kind = result.column("other_type").combine_chunks()
    if pc.any(pc.equal(other_kind, "RECORD")).as_py():
        return None, strict, strict  # a record that lacks a declared key (or repeats one)
    is_record = pc.and_(strict, pc.fill_null(pc.equal(messages.field("type"), "RECORD"), False))
    streams = pc.filter(messages.field("record").field("stream"), is_record)
    if not pc.all(pc.fill_null(pc.equal(streams, stream), False)).as_py() and len(streams):
        return None, strict, strict  # another stream's records too
    fits = pc.equal(result.column("keys").combine_chunks(), declared)  # no key beyond the declared ones
    return messages, is_record, fits


_STRING_KINDS = frozenset({"string", "uuid", "timestamp_tz", "timestamp", "date"})


def _typed(column: Column, raw: pa.Array) -> pa.Array | None:
    """The column from DuckDB's values (null: JSON null or absent), or None if one does not fit.

    `raw` is text: compact JSON for JSON columns, else a string's own text or another value's JSON
    text. The casts accept only what the per-record path converts to the same value: "7" and 7 in
    an integer column are both 7 there (`records._to_int`), "2.5" and 2.5 in a number column 2.5.
    """
    kind = column.kind
    try:
        if kind == "integer":
            return pc.cast(raw, pa.int64())  # rejects 1.5, 1e3 (read as 1000.0), true, nan and overflow
        if kind == "number":
            numbers = pc.cast(raw, pa.float64())  # rejects true; NaN and Infinity below
            return numbers if pc.all(pc.is_finite(numbers)).as_py() is not False else None
        if kind == "boolean":  # true and "true" are both True in the per-record path; 1 is not
            true, false = pc.equal(raw, "true"), pc.equal(raw, "false")
            return true if pc.all(pc.or_(true, false)).as_py() is not False else None
        if kind in ("timestamp_tz", "timestamp", "date"):
            return parse_timestamps(raw.cast(pa.string()), column.arrow_type)
        bare = _BARE_LITERAL_IN_JSON if kind == "json" else _BARE_LITERAL_STRING
        if pc.any(pc.match_substring_regex(raw, bare)).as_py():
            return None
        return raw.cast(column.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return None


def _line_offsets(data: bytes | bytearray, size: int) -> np.ndarray:
    """Where each line of `data[:size]` starts, and `size`: a loop of C-level `find`s (memchr)."""
    starts = [0]
    append, find = starts.append, data.find
    end = find(b"\n", 0, size)
    while end >= 0:
        append(end + 1)
        end = find(b"\n", end + 1, size)
    return np.array(starts, dtype=np.int64)


# ------------------------------------------------------------------------------------------- queries


def _structure(columns: Sequence[Column]) -> str:
    """json_transform's structure: JSON columns as JSON text, others as text (VARCHAR: a string's own
    text, any other value's JSON text), converted strictly in `_typed`. `emitted_at` stays JSON: the
    per-record path does not read a string there."""
    data = {c.name: ("JSON" if c.kind == "json" else "VARCHAR") for c in columns}
    return json.dumps({"type": "VARCHAR", "record": {"stream": "JSON", "emitted_at": "JSON", "data": data}})


def _strict_sql(columns: Sequence[Column]) -> str:
    """The query for a block of one stream's records. `json_transform_strict` fails on a missing
    key and on a key given twice, and nothing fails on an undeclared key: so when it succeeds the
    record has exactly the declared keys iff it has as many keys. A line it fails on (another
    message; a record omitting a key) gets its `type`, so that records needing the lenient query
    are seen."""
    return f"""
        SELECT m, len(json_keys(line, '$.record.data')) AS keys,
               CASE WHEN m IS NULL THEN json_extract_string(line, '$.type') END AS other_type
        FROM (SELECT TRY(json_transform_strict(line, {_sql_text(_structure(columns))})) AS m, line FROM lines)
    """


def _lenient_sql(streams: dict[str, Sequence[Column]]) -> str:
    """The query for any block: the lenient transform of every selected stream's fields, and the full
    key comparison for the record's own stream. `fits` is NULL for another message."""
    fields: dict[str, Column] = {}
    for columns in streams.values():
        for column in columns:
            # A name declared by two streams with other kinds: as JSON text, typed per stream later.
            known = fields.get(column.name)
            fields[column.name] = (
                column if known is None or known.kind == column.kind else Column(column.name, "json")
            )
    by_stream = " ".join(
        f"WHEN {_sql_text(spelled)} THEN {_keys_fit(columns)}" for spelled, columns in streams.items()
    )
    return f"""
        SELECT m, CASE
            WHEN m.type IS DISTINCT FROM 'RECORD' THEN NULL
            ELSE (CASE m.record.stream {by_stream} END)
        END AS fits
        FROM (SELECT json_transform(line, {_sql_text(_structure(list(fields.values())))}) AS m, line FROM lines)
    """


def _keys_fit(columns: Sequence[Column]) -> str:
    """SQL: `data` is an object whose keys are all among `columns`, each once."""
    keys = "json_keys(line, '$.record.data')"
    declared = "[" + ", ".join(_sql_text(c.name) for c in columns) + "]"
    return (
        f"(list_has_all({declared}, {keys}) AND len(list_distinct({keys})) = len({keys})"
        f" AND (len({keys}) > 0 OR json_type(line, '$.record.data') = 'OBJECT'))"
    )


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
