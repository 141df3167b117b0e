"""The declared connections, synced end to end from the project's sample sources (real subprocesses)."""

from __future__ import annotations

import importlib.util

import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.lake import read_lake_table

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("airbyte_platform.ingestion.sample_sources.__main__") is None,
    reason="the sample sources are not runnable yet",
)


def test_stripe_to_lake_full_then_incremental_rerun_adds_nothing(lake_runner):
    connection = connection_named("stripe_to_s3")

    first = {r.stream: r for r in lake_runner.sync(connection, config={"records": 300})}

    assert set(first) == {s.name for s in connection.streams}
    for stream in connection.streams:
        result = first[stream.name]
        assert result.records_synced == result.total_rows > 0, stream.name
        assert result.state, f"{stream.name}: an incremental stream commits its state"
        table = read_lake_table(result.location)
        assert table.num_rows == result.total_rows
        assert set(stream.primary_key) | {stream.cursor_field} <= set(table.column_names)
        ids = table.column(stream.primary_key[0]).to_pylist()
        assert len(ids) == len(set(ids)), f"{stream.name}: duplicate keys"

    again = {r.stream: r for r in lake_runner.sync(connection, ["customers"], config={"records": 300})}

    assert list(again) == ["customers"]
    assert again["customers"].records_synced == 0
    assert again["customers"].total_rows == first["customers"].total_rows


def test_stripe_to_postgres_incremental_rerun_adds_no_duplicates(pg_runner, pg):
    connection = connection_named("stripe_to_postgres")
    pg.execute("DROP SCHEMA IF EXISTS stripe_raw CASCADE")  # one PostgreSQL per test session

    first = {
        r.stream: r for r in pg_runner.sync(connection, ["customers", "charges"], config={"records": 200})
    }
    second = {
        r.stream: r for r in pg_runner.sync(connection, ["customers", "charges"], config={"records": 400})
    }

    for name in ("customers", "charges"):
        assert second[name].total_rows >= first[name].total_rows > 0
        total, distinct = pg.execute(f"SELECT count(*), count(DISTINCT id) FROM stripe_raw.{name}").fetchone()
        assert total == distinct == second[name].total_rows
