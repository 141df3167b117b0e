"""The embedded runner into a real PostgreSQL (pgserver), with the fake connector as a real subprocess."""

from __future__ import annotations

from dataclasses import replace

from airbyte_platform.ingestion.embedded.postgres import read_state
from airbyte_platform_tests.ingestion.conftest import EVENTS, ITEMS


def _rows(pg, query: str) -> list[tuple]:
    return pg.execute(query).fetchall()


def test_incremental_upserts_by_primary_key_and_commits_state(fake_connection, pg_runner, pg, postgres_dsn):
    connection = fake_connection("postgres")
    schema = f"{connection.source}_raw"

    first = {r.stream: r for r in pg_runner.sync(connection)}

    assert first["items"].location == f"{schema}.items"
    assert (first["items"].records_synced, first["items"].total_rows) == (100, 100)
    assert (first["events"].records_synced, first["events"].total_rows) == (10, 10)
    assert read_state(postgres_dsn, schema, connection.name, "items") == {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": "items"}, "stream_state": {"cursor": 100}},
    }

    # 20 new items, and items 3 and 4 re-emitted with a newer cursor: upserted, not duplicated.
    second = {r.stream: r for r in pg_runner.sync(connection, config={"records": 120, "updated_ids": [3, 4]})}

    assert (second["items"].records_synced, second["items"].total_rows) == (22, 120)
    assert second["items"].state == {"cursor": 122}
    assert _rows(pg, f"SELECT count(*), count(DISTINCT id) FROM {schema}.items") == [(120, 120)]
    assert _rows(pg, f"SELECT name, updated_at FROM {schema}.items WHERE id = 3") == [("item 3 v2", 121)]
    # `events` has no primary key: appended (nothing new since its cursor).
    assert second["events"].total_rows == 10


def test_rerun_adds_no_duplicates_and_full_refresh_replaces(fake_connection, pg_runner, pg):
    connection = fake_connection("postgres", streams=(ITEMS, replace(EVENTS, sync_mode="full_refresh")))
    schema = f"{connection.source}_raw"
    pg_runner.sync(connection)

    again = {r.stream: r for r in pg_runner.sync(connection)}

    assert (again["items"].records_synced, again["items"].total_rows) == (0, 100)
    assert (again["events"].records_synced, again["events"].total_rows) == (10, 10)
    assert _rows(pg, f"SELECT count(*) FROM {schema}.events") == [(10,)]
    leftovers = _rows(pg, f"SELECT tablename FROM pg_tables WHERE schemaname = '{schema}' ORDER BY 1")
    assert leftovers == [("_airbyte_state",), ("events",), ("items",)]


def test_table_columns_are_typed_from_the_schema(fake_connection, pg_runner, pg):
    connection = fake_connection("postgres", streams=(ITEMS,), config={"records": 5})

    [result] = pg_runner.sync(connection)

    columns = dict(result.columns)
    assert columns == {
        "_airbyte_raw_id": "uuid",
        "_airbyte_extracted_at": "timestamp with time zone",
        "_airbyte_meta": "jsonb",
        "id": "bigint",
        "updated_at": "bigint",
        "name": "text",
        "amount": "double precision",
        "ratio": "double precision",
        "active": "boolean",
        "created": "timestamp with time zone",
        "attrs": "jsonb",
        "tags": "jsonb",
        "note": "text",
    }
    schema = f"{connection.source}_raw"
    assert _rows(
        pg, f"SELECT attrs->>'color', jsonb_array_length(tags), note FROM {schema}.items WHERE id = 2"
    ) == [("red", 2, None)]


def test_subset_sync_leaves_other_tables_alone(fake_connection, pg_runner, pg):
    connection = fake_connection("postgres")
    schema = f"{connection.source}_raw"

    [result] = pg_runner.sync(connection, ["items"])

    assert result.stream == "items"
    assert _rows(pg, f"SELECT to_regclass('{schema}.events') IS NULL") == [(True,)]
