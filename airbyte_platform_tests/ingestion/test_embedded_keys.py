"""Records of a deduplicated stream whose primary key is missing, null or cannot be typed: kept, flagged in
`_airbyte_meta`, counted and reported, never collapsed into one row (PostgreSQL did: 20 records, 15 rows)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airbyte_platform.core.lake import read_lake_table
from airbyte_platform.ingestion.embedded_resource import materialization_metadata
from airbyte_platform_tests.ingestion.conftest import ITEMS


def _rows(runner: Any, connection: Any, pg: Any) -> list[dict[str, Any]]:
    if connection.destination == "lake":
        table = read_lake_table(f"{runner.lake_root}/airbyte/{connection.source}/items")
        return table.select(["id", "name", "_airbyte_meta"]).to_pylist()
    cursor = pg.execute(f"SELECT id, name, _airbyte_meta::text FROM {connection.source}_raw.items")
    return [{"id": i, "name": n, "_airbyte_meta": m} for i, n, m in cursor.fetchall()]


@pytest.mark.parametrize("destination", ["postgres", "lake"])
def test_records_without_a_usable_primary_key_are_kept_flagged_and_reported(
    destination, fake_connection, pg_runner, pg, caplog
):
    # 14 records with ids, then 6 whose `id` is missing, null or "not-an-id-<k>" (2 of each).
    connection = fake_connection(destination, streams=(ITEMS,), config={"records": 14, "keyless_records": 6})

    with caplog.at_level(logging.WARNING, logger="embedded-test"):
        [result] = pg_runner.sync(connection)

    rows = _rows(pg_runner, connection, pg)
    assert (result.records_synced, result.total_rows, len(rows)) == (20, 20, 20)
    keyless = sorted((r for r in rows if r["id"] is None), key=lambda r: r["name"])
    assert [r["name"] for r in keyless] == [f"keyless {k}" for k in range(6)]
    metas = [json.loads(r["_airbyte_meta"]) for r in keyless]
    assert all(meta["primary_key_missing"] == ["id"] for meta in metas)
    # An untypable id is also kept as the connector sent it.
    originals = [c["original"] for meta in metas for c in meta.get("changes", []) if c["field"] == "id"]
    assert sorted(originals) == ["not-an-id-2", "not-an-id-5"]
    assert all(r["_airbyte_meta"] is None for r in rows if r["id"] is not None)
    assert result.records_without_primary_key == 6
    assert "stream items: 6 records without a usable primary key (id)" in caplog.text
    assert "keyless 0" in caplog.text  # an example
    metadata = materialization_metadata(connection, result)
    assert metadata["records_without_primary_key"] == 6

    # The next sync reads nothing new: the kept rows neither vanish nor multiply.
    [again] = pg_runner.sync(connection)
    assert (again.records_synced, again.total_rows, again.records_without_primary_key) == (0, 20, 0)
    assert len(_rows(pg_runner, connection, pg)) == 20


@pytest.mark.parametrize("destination", ["postgres", "lake"])
def test_records_synced_and_rows_are_reconciled_in_metadata(destination, fake_connection, pg_runner):
    connection = fake_connection(destination, streams=(ITEMS,))
    pg_runner.sync(connection)

    # 20 new items and new versions of items 3 and 4: 22 records, 20 more rows.
    [result] = pg_runner.sync(connection, config={"records": 120, "updated_ids": [3, 4]})

    assert (result.records_synced, result.total_rows, result.rows_added) == (22, 120, 20)
    metadata = materialization_metadata(connection, result)
    assert metadata["rows_added"] == 20
    assert metadata["records_replacing_a_row"] == 2
