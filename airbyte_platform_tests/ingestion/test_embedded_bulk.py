"""The bulk path (DuckDB) types exactly as the per-record path does, or declines the block.

The read loop sends big blocks to `bulk.BulkParser` and falls back to `records.StreamBuffer` when it
declines; both must give the same rows (the random `_airbyte_raw_id` aside) and the same errors.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from airbyte_platform.core.catalog import StreamSpec, connection_named
from airbyte_platform.core.lake import read_lake_table
from airbyte_platform.ingestion.embedded import protocol, read_loop
from airbyte_platform.ingestion.embedded.bulk import BulkParser
from airbyte_platform.ingestion.embedded.destination import StreamPlan
from airbyte_platform.ingestion.embedded.records import StreamBuffer
from airbyte_platform.ingestion.embedded.runner import EmbeddedSyncError
from airbyte_platform.ingestion.embedded.schema import RAW_ID, Column
from airbyte_platform_tests.ingestion.conftest import EVENTS, ITEMS

COLUMNS = (
    Column("id", "integer"),
    Column("name", "string"),
    Column("amount", "number"),
    Column("active", "boolean"),
    Column("created", "timestamp_tz"),
    Column("day", "date"),
    Column("attrs", "json"),
    Column("tags", "json"),
    Column("key", "uuid"),
)
OTHER = (Column("seq", "integer"), Column("kind", "string"))


def _plan(name: str, columns: tuple[Column, ...]) -> StreamPlan:
    spec = StreamSpec(name, (columns[0].name,), columns[0].name, "full_refresh", min_records=0)
    stream = {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]}
    configured = protocol.ConfiguredStream(stream, "full_refresh", None, spec.primary_key)
    return StreamPlan(spec=spec, configured=configured, columns=columns, location="unused")


PLANS = {"items": _plan("items", COLUMNS), "events": _plan("events", OTHER)}


def _record(i: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": i,
        "name": f"item {i}",
        "amount": i * 1.5,
        "active": i % 2 == 0,
        "created": f"2026-01-{1 + i % 28:02d}T12:00:00Z",
        "day": f"2026-02-{1 + i % 28:02d}",
        "attrs": {"color": "red", "size": i % 3, "nested": {"x": [1, 2.5, None]}},
        "tags": ["a", "b"][: i % 3],
        "key": f"00000000-0000-4000-8000-{i:012d}",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not _ABSENT}


_ABSENT = object()


def _line(data: dict[str, Any], stream: str = "items", *, compact: bool = True) -> bytes:
    message = {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1767225600000}}
    return orjson.dumps(message) if compact else json.dumps(message).encode()


def _per_record(lines: list[bytes]) -> dict[str, pa.Table]:
    """What the per-record path makes of `lines` (records only)."""
    buffers = {
        name: StreamBuffer(name, plan.columns, max_rows=1 << 30, max_bytes=1 << 40)
        for name, plan in PLANS.items()
    }
    for line in lines:
        message = protocol.loads_lenient(line)
        if message["type"] == "RECORD":
            record = message["record"]
            buffers[record["stream"]].add(record["data"], record.get("emitted_at"), len(line))
    return {
        name: pa.Table.from_batches([b.drain()]).drop_columns([RAW_ID])
        for name, b in buffers.items()
        if len(b)
    }


def _bulk(lines: list[bytes], streams: tuple[str, ...] = ("items",)) -> dict[str, pa.Table] | None:
    parser = BulkParser([PLANS[name] for name in streams])
    try:
        parsed = parser.parse(memoryview(bytearray(b"\n".join(lines) + b"\n")))
    finally:
        parser.close()
    if parsed is None:
        return None
    return {
        name: pa.Table.from_batches([batch]).drop_columns([RAW_ID]) for name, batch in parsed.batches.items()
    }


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([_line(_record(i)) for i in range(50)], id="compact"),
        pytest.param(
            [_line(_record(i), compact=False) for i in range(50)], id="spaced, as json.dumps writes"
        ),
        pytest.param(
            [_line(_record(i, name=f'a "quoted" \\ name\n\u00e9 {i}')) for i in range(20)]
            + [_line(_record(20, name="caf\u00e9 \U0001f600"), compact=False)],
            id="escapes and non-ASCII",
        ),
        pytest.param(
            [_line(_record(i, amount=i, tags=None, attrs=None, created=None)) for i in range(20)],
            id="integers in a number column, nulls",
        ),
        pytest.param(
            [_line(_record(i, name=_ABSENT, attrs=_ABSENT)) for i in range(20)] + [_line(_record(21))],
            id="records omitting keys",
        ),
        pytest.param(
            [_line(_record(i, id=str(i), active="true", amount=str(i * 2.5))) for i in range(20)],
            id="numbers and booleans as strings",
        ),
        pytest.param(
            [_line(_record(i, name=i, key={"k": i})) for i in range(20)], id="non-strings in string columns"
        ),
        pytest.param(
            [_line(_record(i, attrs={})) for i in range(5)] + [_line(_record(9, tags=[]))], id="empty"
        ),
    ],
)
def test_accepted_blocks_type_exactly_as_the_per_record_path(lines):
    typed = _bulk(lines)

    assert typed is not None
    expected = _per_record(lines)
    assert typed.keys() == expected.keys()
    for name, table in typed.items():
        assert table.schema == expected[name].schema
        for column in table.column_names:
            got, want = table.column(column).to_pylist(), expected[name].column(column).to_pylist()
            if table.schema.field(column).name in ("attrs", "tags"):  # JSON text: the same JSON value
                got = [None if v is None else json.loads(v) for v in got]
                want = [None if v is None else json.loads(v) for v in want]
            assert got == want, column


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(_line(_record(3, surprise=1)), id="undeclared field"),
        pytest.param(_line(_record(3, id=1.5)), id="fraction in an integer column"),
        pytest.param(_line(_record(3, id=2**70), compact=False), id="integer beyond 64 bits"),
        pytest.param(_line(_record(3, active=1)), id="number in a boolean column"),
        pytest.param(_line(_record(3, amount=True)), id="boolean in a number column"),
        pytest.param(_line(_record(3, created="2026-01-02T03:04:05")), id="naive timestamp"),
        pytest.param(_line(_record(3, created=1767225600)), id="epoch timestamp"),
        pytest.param(_line(_record(3, day="someday")), id="not a date"),
        pytest.param(
            json.dumps(
                {
                    "type": "RECORD",
                    "record": {"stream": "items", "data": _record(3) | {"amount": float("nan")}},
                }
            ).encode(),
            id="NaN number",
        ),
        pytest.param(
            json.dumps(
                {
                    "type": "RECORD",
                    "record": {"stream": "items", "data": _record(3) | {"attrs": {"r": float("inf")}}},
                }
            ).encode(),
            id="Infinity in JSON",
        ),
        pytest.param(
            b'{"type":"RECORD","record":{"stream":"items","data":{"id":1,"id":2}}}', id="duplicate key"
        ),
        pytest.param(b'{"type":"RECORD","record":{"stream":"items","data":[1,2]}}', id="data not an object"),
        pytest.param(_line(_record(3), stream="ghosts"), id="unselected stream"),
        pytest.param(b"not json", id="malformed"),
        pytest.param(b"", id="blank line"),
        pytest.param(
            b'{"type":"RECORD","record":{"stream":"items","data":{"id":1},"emitted_at":"soon"}}',
            id="emitted_at not a number",
        ),
    ],
)
def test_blocks_it_cannot_type_exactly_are_declined(bad):
    lines = [_line(_record(i)) for i in range(30)]
    assert _bulk(lines) is not None

    assert _bulk([*lines[:10], bad, *lines[10:]]) is None


def test_other_messages_are_returned_in_order_and_streams_are_typed_apart():
    state = orjson.dumps(
        {
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {"stream_descriptor": {"name": "items"}, "stream_state": {"c": 1}},
            },
        }
    )
    log = orjson.dumps({"type": "LOG", "log": {"level": "INFO", "message": "halfway"}})
    lines = [log]
    lines += [_line(_record(i)) for i in range(5)]
    lines += [_line({"seq": i, "kind": "click"}, stream="events") for i in range(3)]
    lines += [state, _line(_record(9))]
    parser = BulkParser([PLANS["items"], PLANS["events"]])
    try:
        parsed = parser.parse(memoryview(bytearray(b"\n".join(lines) + b"\n")))
    finally:
        parser.close()

    assert parsed is not None
    assert parsed.others == [log, state] and parsed.other_positions.tolist() == [0, 9]
    assert parsed.line_streams.tolist() == [-1, 0, 0, 0, 0, 0, 1, 1, 1, -1, 0]
    assert {n: b.num_rows for n, b in parsed.batches.items()} == {"items": 6, "events": 3}
    assert parsed.batches["items"].column("id").to_pylist() == [0, 1, 2, 3, 4, 9]
    assert parsed.record_bytes["events"] == sum(len(line) for line in lines[6:9])
    expected = _per_record(lines)
    for name, batch in parsed.batches.items():
        assert pa.Table.from_batches([batch]).drop_columns([RAW_ID]).equals(expected[name])


# ------------------------------------------------------------------------------- through the runner


@pytest.fixture
def bulk_always(monkeypatch):
    """Every block goes to the bulk path, however small (the fake source's output is)."""
    monkeypatch.setattr(read_loop, "MIN_BULK_BYTES", 0)


def _rows(location: str) -> list[str]:
    """The table's rows (without the random raw id) as sorted JSON text: NaN compares equal as text."""
    table = read_lake_table(location).drop_columns([RAW_ID])
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())


def test_a_sync_in_bulk_publishes_what_the_per_record_path_does(fake_connection, lake_runner, monkeypatch):
    config = {"records": 300, "bad_amount_every": 0, "updated_ids": [3, 4], "state_every": 40}
    streams = (ITEMS, EVENTS)
    monkeypatch.setattr(read_loop, "MIN_BULK_BYTES", 1 << 40)
    per_record = {r.stream: r for r in lake_runner.sync(fake_connection(streams=streams), config=config)}
    monkeypatch.setattr(read_loop, "MIN_BULK_BYTES", 0)
    bulk = {r.stream: r for r in lake_runner.sync(fake_connection(streams=streams), config=config)}

    for name, result in bulk.items():
        assert (result.records_synced, result.bytes_synced, result.state) == (
            per_record[name].records_synced,
            per_record[name].bytes_synced,
            per_record[name].state,
        )
        assert _rows(result.location) == _rows(per_record[name].location)


@pytest.mark.parametrize(
    ("fail", "problem"),
    [
        (
            {"mode": "trace", "after": 60},
            "stream 'items': the connector reported an error: The API answered 401",
        ),
        # 2 LOG, 60 records, 2 STATE (every 25 records), then the bad line
        ({"mode": "malformed", "after": 60}, r"stream 'items': malformed line 65 on stdout \(not JSON\)"),
        ({"mode": "unselected_stream", "after": 60}, "a record of stream 'ghosts', which was not selected"),
        ({"mode": "crash", "after": 60}, "stream 'items': the connector exited with code 3"),
    ],
)
def test_failures_read_in_bulk_are_reported_as_per_record(
    fake_connection, lake_runner, monkeypatch, fail, problem
):
    messages = []
    for smallest_bulk_block in (1 << 40, 0):  # per record, then every block in bulk
        monkeypatch.setattr(read_loop, "MIN_BULK_BYTES", smallest_bulk_block)
        connection = fake_connection(streams=(ITEMS,), config={"records": 200, "fail": fail})
        with pytest.raises(EmbeddedSyncError, match=problem) as failure:
            lake_runner.sync(connection)
        messages.append(str(failure.value).replace(connection.name, "<connection>"))

    assert messages[0] == messages[1]


@pytest.mark.usefixtures("bulk_always")
def test_values_that_do_not_fit_go_the_per_record_way_in_bulk_too(fake_connection, lake_runner):
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 30, "bad_amount_every": 10, "undeclared_field": True}
    )

    [result] = lake_runner.sync(connection)

    rows = {row["id"]: row for row in read_lake_table(result.location).to_pylist()}
    assert rows[10]["amount"] is None
    assert json.loads(rows[11]["_airbyte_meta"]) == {"additional_properties": {"surprise": {"n": 11}}}


def test_the_sample_stripe_source_is_typed_in_bulk_exactly_as_per_record(lake_runner, monkeypatch):
    connection = connection_named("stripe_to_s3")
    streams = ["charges", "customers"]
    config = {"records": 6000, "seed": 3}
    accepted: list[int] = []
    parse = BulkParser.parse

    def counting(self: BulkParser, block: memoryview) -> Any:
        typed = parse(self, block)
        if block.nbytes > 1000:  # not the workers' warm-up
            accepted.append(typed is not None)
        return typed

    monkeypatch.setattr(BulkParser, "parse", counting)
    monkeypatch.setattr(read_loop, "MIN_BULK_BYTES", 1 << 40)
    per_record = {r.stream: r for r in lake_runner.sync(connection, streams, config=config)}
    assert accepted == []
    monkeypatch.setattr(read_loop, "MIN_BULK_BYTES", 0)
    moved = lake_runner.lake_root + "-per-record"
    Path(lake_runner.lake_root).rename(moved)
    bulk = {r.stream: r for r in lake_runner.sync(connection, streams, config=config)}

    assert accepted and all(accepted)  # blocks of one stream and at stream changes alike
    for name, result in bulk.items():
        assert (result.records_synced, result.bytes_synced) == (
            per_record[name].records_synced,
            per_record[name].bytes_synced,
        )
        assert result.state == per_record[name].state
        assert _rows(result.location) == _rows(
            per_record[name].location.replace(lake_runner.lake_root, moved)
        )


@pytest.mark.usefixtures("bulk_always")
def test_a_block_typed_in_bulk_is_applied_while_the_connector_pauses(fake_connection, lake_runner):
    # The connector writes a bad line, then sleeps 30 s. The block holding the line is typed in bulk
    # (declined, so per record) and must be applied without waiting for more output: the sync fails on
    # the bad line, not on the inactivity timeout that a held block would run into.
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 100, "fail": {"mode": "malformed", "after": 20}}
    )
    connection = replace(connection, local=replace(connection.local, inactivity_timeout_seconds=15))

    with pytest.raises(EmbeddedSyncError) as failure:
        lake_runner.sync(connection)

    assert "malformed line" in str(failure.value) and "inactivity" not in str(failure.value)
