"""Incremental streams with a primary key: every reader sees one row per key, the latest by cursor.

The lake keeps every version, as Airbyte's S3 destination does, and says so in the catalog it sends
(`append`); PostgreSQL upserts (`append_dedup`). Readers of the lake (read_lake_table, the row count,
the GX checks, the Stripe transform) take the latest version of each key.
"""

from __future__ import annotations

import logging

import pytest

from airbyte_platform.core.lake import read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded_resource import materialization_metadata
from airbyte_platform_tests.ingestion.conftest import ITEMS


def test_lake_keeps_every_version_and_readers_see_the_latest_per_key(fake_connection, lake_runner, caplog):
    connection = fake_connection(streams=(ITEMS,))
    with caplog.at_level(logging.INFO, logger="embedded-test"):
        [first] = lake_runner.sync(connection)
    assert "destination sync modes {'items': 'append'}" in caplog.text  # what the lake does

    # Item 3 twice in one sync (cursors 101 and 103), item 4 once (102).
    lake_runner.sync(connection, config={"records": 100, "updated_ids": [3, 4, 3]})
    # Past the cursor (103): only item 5's new version (104).
    [result] = lake_runner.sync(connection, config={"records": 100, "updated_ids": [3, 4, 3, 5]})

    table = read_lake_table(result.location)
    names = dict(zip(table.column("id").to_pylist(), table.column("name").to_pylist(), strict=True))
    assert table.num_rows == len(names) == 100 == result.total_rows == first.total_rows
    assert [names[i] for i in (3, 4, 5, 6)] == ["item 3 v4", "item 4 v3", "item 5 v5", "item 6"]
    stored = read_lake_table(result.location, deduplicate=False)
    assert stored.num_rows == result.stored_rows == 100 + 3 + 1
    manifest = read_manifest(result.location)
    assert (
        manifest is not None
        and manifest["primary_key"] == ["id"]
        and manifest["cursor_field"] == "updated_at"
    )
    metadata = materialization_metadata(connection, result)
    assert metadata["dagster/row_count"] == 100 and metadata["lake/stored_rows"] == stored.num_rows


@pytest.mark.parametrize("destination", ["postgres", "lake"])
def test_a_source_that_never_emits_state_is_warned_about_and_not_duplicated(
    destination, fake_connection, pg_runner, caplog
):
    connection = fake_connection(destination, streams=(ITEMS,), config={"records": 1000, "emit_state": False})

    pg_runner.sync(connection)
    with caplog.at_level(logging.WARNING, logger="embedded-test"):
        [second] = pg_runner.sync(connection)

    assert (second.records_synced, second.total_rows, second.rows_added) == (1000, 1000, 0)
    warning = "stream items is incremental but the connector emitted no STATE"
    assert warning in caplog.text
    assert any(warning in w for w in second.warnings)
    assert warning in materialization_metadata(connection, second)["warnings"].value


@pytest.mark.parametrize("destination", ["postgres", "lake"])
def test_the_latest_version_is_the_one_with_the_greatest_cursor_not_the_last_to_arrive(
    destination, fake_connection, pg_runner, pg
):
    # A source that never checkpoints re-emits what it has; here item 1 arrives newest-first.
    connection = fake_connection(destination, streams=(ITEMS,), config={"records": 0, "emit_state": False})
    pg_runner.sync(connection, config={"changes": [[1, 12, "v12"], [1, 11, "v11"], [2, 5, "v5"]]})
    # A later sync brings an older version of item 1 again, and a newer one of item 2.
    [result] = pg_runner.sync(connection, config={"changes": [[1, 10, "v10"], [2, 6, "v6"]]})

    if destination == "lake":
        table = read_lake_table(result.location)
        rows = sorted(zip(table.column("id").to_pylist(), table.column("name").to_pylist(), strict=True))
    else:
        rows = pg.execute(f"SELECT id, name FROM {connection.source}_raw.items ORDER BY id").fetchall()
    assert rows == [(1, "v12"), (2, "v6")] and result.total_rows == 2
