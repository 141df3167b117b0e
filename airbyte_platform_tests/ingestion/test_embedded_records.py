"""Typing records from the discovered JSON schema, and the configured catalog sent to connectors."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import pytest

from airbyte_platform.ingestion.embedded import protocol
from airbyte_platform.ingestion.embedded.records import StreamBuffer, random_uuid_strings
from airbyte_platform.ingestion.embedded.schema import (
    Column,
    SchemaError,
    column_kind,
    columns_from_json_schema,
)


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        ({"type": "integer"}, "integer"),
        ({"type": ["null", "number"], "airbyte_type": "integer"}, "integer"),
        ({"type": ["null", "number"]}, "number"),
        ({"type": ["integer", "number"]}, "number"),
        ({"type": "boolean"}, "boolean"),
        ({"type": "string"}, "string"),
        ({"type": "string", "format": "date-time"}, "timestamp_tz"),
        (
            {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"},
            "timestamp",
        ),
        ({"type": "string", "format": "date"}, "date"),
        ({"type": ["null", "object"], "properties": {}}, "json"),
        ({"type": "array", "items": {"type": "string"}}, "json"),
        ({"type": ["string", "integer"]}, "json"),
        ({"anyOf": [{"type": "string"}, {"type": "object"}]}, "json"),
        ({}, "json"),
    ],
)
def test_column_kinds_follow_airbyte_typing(schema, kind):
    assert column_kind(schema) == kind


def test_schemas_without_properties_or_with_reserved_names_are_rejected():
    with pytest.raises(SchemaError, match="'charges': the discovered JSON schema declares no properties"):
        columns_from_json_schema({"type": "object"}, "charges")
    with pytest.raises(SchemaError, match="clash with Airbyte's metadata columns"):
        columns_from_json_schema({"properties": {"_airbyte_raw_id": {"type": "string"}}}, "charges")


def test_random_uuids_are_distinct_version_4_text():
    values = random_uuid_strings(1000).to_pylist()
    assert len(set(values)) == 1000
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", v)
        for v in values
    )
    assert random_uuid_strings(0).to_pylist() == []


def test_values_of_the_wrong_type_are_coerced_or_nulled_never_truncated():
    columns = (
        Column("n", "integer"),
        Column("x", "number"),
        Column("s", "string"),
        Column("t", "timestamp_tz"),
        Column("d", "date"),
        Column("b", "boolean"),
    )
    buffer = StreamBuffer("s", columns, max_rows=10, max_bytes=1 << 20)
    records = [
        {"n": 1.5, "x": "2.5", "s": 5, "t": "2026-01-02T03:04:05", "d": "2026-01-02T10:00:00Z", "b": "true"},
        {"n": 2**70, "x": True, "s": {"a": 1}, "t": 1767225600, "d": "someday", "b": 1},
        {"n": "7", "x": 3, "s": "ok", "t": "2026-01-02T03:04:05+02:00", "d": None},  # `b` missing
    ]
    for record in records:
        buffer.add(record, 1767225600000, 10)

    rows = buffer.drain().to_pylist()

    assert [r["n"] for r in rows] == [None, None, 7]  # 1.5 is not silently truncated to 1
    assert [r["x"] for r in rows] == [2.5, None, 3.0]
    assert [r["s"] for r in rows] == ["5", '{"a":1}', "ok"]
    assert [r["t"] for r in rows] == [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # naive: taken as UTC
        datetime(2026, 1, 1, tzinfo=UTC),  # epoch seconds
        datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC),
    ]
    assert [r["d"] for r in rows] == [date(2026, 1, 2), None, None]
    assert [r["b"] for r in rows] == [True, None, None]
    nulled = {field["field"]: field["original"] for field in json.loads(rows[1]["_airbyte_meta"])["changes"]}
    assert nulled == {"n": 2**70, "x": True, "d": "someday", "b": 1}
    assert json.loads(rows[0]["_airbyte_meta"])["changes"] == [
        {"field": "n", "change": "NULLED", "reason": "DESTINATION_SERIALIZATION_ERROR", "original": 1.5}
    ]
    assert rows[2]["_airbyte_meta"] is None
    assert len(buffer) == 0 and buffer.bytes == 0


def test_buffer_reports_full_by_rows_or_bytes():
    buffer = StreamBuffer("s", (Column("n", "integer"),), max_rows=3, max_bytes=100)
    assert [buffer.add({"n": i}, 0, 10) for i in range(3)] == [False, False, True]
    buffer.drain()
    assert buffer.add({"n": 1}, 0, 100) is True
    assert buffer.drain().num_rows == 1


def test_configured_catalog_maps_sync_modes_to_destination_modes():
    stream = {"name": "charges", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]}
    incremental = protocol.ConfiguredStream(stream, "incremental", "created", ("id",))
    append_only = protocol.ConfiguredStream(stream, "incremental", "created", ())
    full = protocol.ConfiguredStream(stream, "full_refresh", None, ("id",))

    catalog = protocol.configured_catalog([incremental, append_only, full])["streams"]

    assert catalog[0] == {
        "stream": stream,
        "sync_mode": "incremental",
        "destination_sync_mode": "append_dedup",
        "primary_key": [["id"]],
        "cursor_field": ["created"],
    }
    assert catalog[1]["destination_sync_mode"] == "append"
    assert catalog[2]["destination_sync_mode"] == "overwrite" and "cursor_field" not in catalog[2]


def test_global_state_covers_every_stream_and_is_sent_once():
    shared = {"type": "GLOBAL", "global": {"shared_state": {"lsn": 42}, "stream_states": []}}
    assert protocol.state_streams(shared, ["users", "orders"]) == ["users", "orders"]
    assert protocol.input_state({"users": shared, "orders": shared}) == ([shared], None)
    per_stream = {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"c": 1}},
    }
    assert protocol.state_streams(per_stream, ["users", "orders"]) == ["users"]
    assert protocol.stream_state_value(per_stream) == {"c": 1}


def test_different_global_states_merge_into_one_from_the_oldest_position():
    def global_state(lsn: int, streams: list[str]) -> dict:
        entries = [{"stream_descriptor": {"name": s}, "stream_state": {"at": lsn}} for s in streams]
        return {"type": "GLOBAL", "global": {"shared_state": {"lsn": lsn}, "stream_states": entries}}

    states = {"users": global_state(9, ["users"]), "orders": global_state(5, ["users", "orders"])}
    times = {"users": "2026-12-02T00:00:00", "orders": "2026-12-01T00:00:00"}

    [merged], note = protocol.input_state(states, times)

    assert merged["global"]["shared_state"] == {"lsn": 5}  # orders' older position: nothing missed
    assert merged["global"]["stream_states"] == [
        {"stream_descriptor": {"name": "users"}, "stream_state": {"at": 9}},
        {"stream_descriptor": {"name": "orders"}, "stream_state": {"at": 5}},
    ]
    assert note is not None and "committed with stream orders" in note
    legacy = {"users": {"data": {"users": 9, "orders": 1}}, "orders": {"data": {"users": 2, "orders": 5}}}
    assert protocol.input_state(legacy, times)[0] == [{"data": {"users": 9, "orders": 5}}]
