"""The embedded runner into the Parquet lake, with the fake connector as a real subprocess."""

from __future__ import annotations

import json
import logging
import math
import uuid
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airbyte_platform.core.lake import MANIFEST, lake_files, read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner
from airbyte_platform_tests.ingestion.conftest import EVENTS, ITEMS

EVENTS_FULL_REFRESH = replace(EVENTS, sync_mode="full_refresh")


def test_full_refresh_and_incremental_publish_manifests_with_state(fake_connection, lake_runner, lake_root):
    connection = fake_connection(streams=(ITEMS, EVENTS_FULL_REFRESH))

    first = {r.stream: r for r in lake_runner.sync(connection)}

    items_location = f"{lake_root}/airbyte/{connection.source}/items"
    assert first["items"].location == items_location
    assert (first["items"].records_synced, first["items"].total_rows) == (100, 100)
    assert (first["events"].records_synced, first["events"].total_rows) == (10, 10)
    assert first["items"].state == {"cursor": 100}
    assert first["items"].bytes_synced > 100 * 100
    assert first["items"].sync_id == first["events"].sync_id
    manifest = read_manifest(items_location)
    assert manifest is not None
    assert manifest["state"]["stream"]["stream_state"] == {"cursor": 100}
    assert manifest["rows"] == 100 and manifest["sync_id"] == first["items"].sync_id
    assert len(manifest["files"]) == 1

    # Incremental: only records past the committed cursor, added to the previous files.
    second = {r.stream: r for r in lake_runner.sync(connection, config={"records": 130})}
    assert (second["items"].records_synced, second["items"].total_rows) == (30, 130)
    assert second["items"].state == {"cursor": 130}
    items = read_lake_table(items_location)
    assert sorted(items.column("id").to_pylist()) == list(range(130))
    assert len(lake_files(items_location)) == 2

    # Full refresh: the new manifest lists only this sync's file; the old one is kept for one sync.
    events_location = f"{lake_root}/airbyte/{connection.source}/events"
    assert (second["events"].records_synced, second["events"].total_rows) == (10, 10)
    events_manifest = read_manifest(events_location)
    assert events_manifest is not None and len(events_manifest["files"]) == 1
    retired = events_manifest["retired"]
    assert retired and all((Path(events_location) / name).exists() for name in retired)
    lake_runner.sync(connection, ["events"])
    assert not any((Path(events_location) / name).exists() for name in retired)
    assert read_lake_table(events_location).num_rows == 10


def test_columns_come_from_the_discovered_schema_with_airbyte_metadata(fake_connection, lake_runner):
    connection = fake_connection(streams=(ITEMS,))

    [result] = lake_runner.sync(connection)

    columns = dict(result.columns)
    assert list(columns)[:3] == ["_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta"]
    assert columns["note"] == "string"  # null in every record: typed from the schema
    assert columns["id"] == "int64" and columns["amount"] == "double" and columns["active"] == "bool"
    assert columns["created"] == "timestamp[us, tz=UTC]"
    table = read_lake_table(result.location)
    row = table.filter(pa.compute.equal(table.column("id"), 4)).to_pylist()[0]
    assert json.loads(row["attrs"]) == {"color": "red", "size": 1}  # nested: JSON text
    assert json.loads(row["tags"]) == ["a"]
    assert row["created"].isoformat() == "2026-01-05T12:00:00+00:00"
    raw_ids = table.column("_airbyte_raw_id").to_pylist()
    assert len(set(raw_ids)) == 100 and all(uuid.UUID(value).version == 4 for value in raw_ids)
    assert table.column("_airbyte_extracted_at")[0].as_py().isoformat() == "2026-01-01T00:00:00+00:00"


def test_values_that_do_not_fit_are_nulled_and_kept_in_airbyte_meta(fake_connection, lake_runner, caplog):
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 30, "bad_amount_every": 10, "undeclared_field": True}
    )

    with caplog.at_level(logging.WARNING, logger="embedded-test"):
        [result] = lake_runner.sync(connection)

    rows = {row["id"]: row for row in read_lake_table(result.location).to_pylist()}
    assert rows[10]["amount"] is None
    meta = json.loads(rows[10]["_airbyte_meta"])
    assert meta["changes"] == [
        {
            "field": "amount",
            "change": "NULLED",
            "reason": "DESTINATION_SERIALIZATION_ERROR",
            "original": "not a number",
        }
    ]
    assert meta["additional_properties"] == {"surprise": {"n": 10}}
    assert rows[11]["amount"] == 16.5
    assert math.isnan(rows[13]["ratio"]) and rows[12]["ratio"] == 0.5  # NaN lines are read, not "malformed"
    assert json.loads(rows[11]["_airbyte_meta"]) == {"additional_properties": {"surprise": {"n": 11}}}
    assert "surprise" in caplog.text


def test_incremental_rerun_adds_no_duplicates(fake_connection, lake_runner):
    connection = fake_connection(streams=(ITEMS,))
    lake_runner.sync(connection)

    [again] = lake_runner.sync(connection)

    assert (again.records_synced, again.total_rows) == (0, 100)
    ids = read_lake_table(again.location).column("id").to_pylist()
    assert sorted(ids) == list(range(100))
    manifest = read_manifest(again.location)
    assert manifest is not None and len(manifest["files"]) == 1  # no empty file added


def test_selected_streams_only_are_configured_and_synced(fake_connection, lake_runner, lake_root, caplog):
    connection = fake_connection()

    with caplog.at_level(logging.INFO, logger="embedded-test"):
        results = lake_runner.sync(connection, ["events"])

    assert [r.stream for r in results] == ["events"]
    assert "reading streams ['events']" in caplog.text  # the configured catalog held only `events`
    assert not (Path(lake_root) / "airbyte" / connection.source / "items").exists()


def test_progress_and_connector_logs_reach_the_logger(fake_connection, lake_runner, caplog):
    connection = fake_connection(streams=(ITEMS,))

    with caplog.at_level(logging.INFO, logger="embedded-test"):
        lake_runner.sync(connection)

    progress = [r.message for r in caplog.records if "records read" in r.message]
    assert len(progress) == 2 and "records/s" in progress[0]  # progress_every=40, 100 records
    assert any("reading streams" in r.message for r in caplog.records)


def test_lake_readers_fall_back_to_parquet_files_without_a_manifest(tmp_path: Path):
    folder = tmp_path / "airbyte" / "stripe" / "charges"
    (folder / "2026_01_01").mkdir(parents=True)
    (folder / "_temporary").mkdir()
    pq.write_table(pa.table({"id": [1, 2]}), folder / "2026_01_01" / "a.parquet")
    pq.write_table(pa.table({"id": [3], "extra": ["x"]}), folder / "b.parquet")
    pq.write_table(pa.table({"id": [99]}), folder / "_temporary" / "half-written.parquet")

    assert read_manifest(str(folder)) is None
    assert lake_files(str(folder)) == [f"{folder}/2026_01_01/a.parquet", f"{folder}/b.parquet"]
    table = read_lake_table(str(folder))
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3]
    assert table.column("extra").to_pylist().count(None) == 2


def test_first_sync_into_an_existing_airbyte_folder_keeps_its_files_for_incremental(
    fake_connection, lake_runner: EmbeddedAirbyteRunner, lake_root
):
    connection = fake_connection(streams=(ITEMS,))
    folder = Path(lake_root) / "airbyte" / connection.source / "items"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": pa.array([1000], pa.int64())}), folder / "written_by_airbyte.parquet")

    [result] = lake_runner.sync(connection)

    assert (result.records_synced, result.total_rows) == (100, 101)
    assert "written_by_airbyte.parquet" in json.loads((folder / MANIFEST).read_text())["files"]
    assert 1000 in read_lake_table(str(folder)).column("id").to_pylist()


@pytest.mark.parametrize("streams", [["nope"], ["items", "nope"]])
def test_selecting_an_undeclared_stream_fails_before_running_anything(fake_connection, lake_runner, streams):
    connection = fake_connection()
    with pytest.raises(Exception, match=r"stream 'nope': not a declared stream; declared: events, items"):
        lake_runner.sync(connection, streams)
