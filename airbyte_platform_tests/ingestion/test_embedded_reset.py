"""Reset/clear locally: the embedded runner empties a connection's streams and drops their state, so the
next sync starts from scratch; nothing of any other connection changes. Real connector subprocesses,
a real PostgreSQL (pgserver) and the real `airbyte_reset_connection` job with prod's run config."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.lake import read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded.clear import clear_connection
from airbyte_platform.ingestion.embedded.postgres import read_state
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.ingestion.local_defs import LocalDestinationsResource
from airbyte_platform.ingestion.local_reset import build_local_reset_job
from airbyte_platform.ingestion.reset_config import RESET_JOB_NAME, RESET_OP_NAME
from airbyte_platform.ingestion.sync_assets import declared_sync_assets
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.ingestion.conftest import EVENTS, ITEMS

LOG = logging.getLogger("reset-test")


def _count(pg, table: str) -> int:
    return pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_postgres_clear_empties_the_connection_and_drops_its_state_only(
    fake_connection, pg_runner, pg, postgres_dsn
):
    cleared_connection = fake_connection("postgres", streams=(ITEMS,))
    # Another connection writing into the same schema (same source): shares the state table.
    neighbour = replace(fake_connection("postgres", streams=(EVENTS,)), source=cleared_connection.source)
    neighbour = replace(neighbour, name=f"{cleared_connection.source}_events_to_postgres")
    schema = f"{cleared_connection.source}_raw"
    pg_runner.sync(cleared_connection)
    pg_runner.sync(neighbour)
    assert _count(pg, f"{schema}.items") == 100
    neighbour_state = read_state(postgres_dsn, schema, neighbour.name, "events")
    assert neighbour_state is not None

    [cleared] = clear_connection(cleared_connection, lake_root="unused", postgres_dsn=postgres_dsn, log=LOG)

    assert (cleared.stream, cleared.location, cleared.rows_before, cleared.had_state) == (
        "items",
        f"{schema}.items",
        100,
        True,
    )
    assert _count(pg, f"{schema}.items") == 0  # emptied, columns kept for readers
    assert "name" in {
        r[0]
        for r in pg.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'items'",
            [schema],
        ).fetchall()
    }
    assert read_state(postgres_dsn, schema, cleared_connection.name, "items") is None
    # The neighbour's table and state are as they were.
    assert _count(pg, f"{schema}.events") == 10
    assert read_state(postgres_dsn, schema, neighbour.name, "events") == neighbour_state

    [again] = pg_runner.sync(cleared_connection)
    assert (again.records_synced, again.total_rows) == (100, 100)  # from scratch, not from cursor 100


def test_lake_clear_publishes_an_empty_table_without_state_and_the_next_sync_starts_over(
    fake_connection, lake_runner, lake_root
):
    connection = fake_connection(streams=(ITEMS, EVENTS))
    other = fake_connection(streams=(ITEMS,))
    lake_runner.sync(connection)
    lake_runner.sync(other)
    items = f"{lake_root}/airbyte/{connection.source}/items"
    other_items = f"{lake_root}/airbyte/{other.source}/items"
    old_files = read_manifest(items)["files"]
    other_manifest = read_manifest(other_items)

    cleared = {
        c.stream: c for c in clear_connection(connection, lake_root=lake_root, postgres_dsn=None, log=LOG)
    }

    assert {s: (c.rows_before, c.had_state) for s, c in cleared.items()} == {
        "items": (100, True),
        "events": (10, True),
    }
    manifest = read_manifest(items)
    assert manifest["state"] is None and manifest["visible_rows"] == 0
    assert manifest["retired"] == old_files  # kept for a reader holding the previous manifest
    table = read_lake_table(items)
    assert table.num_rows == 0 and "name" in table.schema.names
    # Spark-style readers listing the folder's files open an empty table with its columns.
    [empty] = manifest["files"]
    assert pq.read_metadata(str(Path(items) / empty)).num_rows == 0
    assert read_manifest(other_items) == other_manifest

    again = {r.stream: r for r in lake_runner.sync(connection)}
    assert (again["items"].records_synced, again["items"].total_rows) == (100, 100)
    assert not any((Path(items) / name).exists() for name in old_files)  # deleted by the next sync
    assert read_lake_table(items).num_rows == 100


def test_clearing_a_never_synced_connection_is_a_no_op(fake_connection, lake_root):
    connection = fake_connection(streams=(ITEMS,))
    [cleared] = clear_connection(connection, lake_root=lake_root, postgres_dsn=None, log=LOG)
    assert (cleared.rows_before, cleared.had_state) == (0, False)
    assert read_manifest(cleared.location) is None


def test_the_reset_job_takes_prods_run_config_and_clears_only_that_connection(tmp_path, postgres_dsn, pg):
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")})
    hubspot, salesforce = connection_named("hubspot_to_postgres"), connection_named("salesforce_to_postgres")
    airbyte = EmbeddedAirbyteResource(
        destinations=DestinationsResource(
            lake_root=str(tmp_path / "lake"), home=str(tmp_path / "home"), postgres_dsn=postgres_dsn
        ),
        connectors_dir=str(tmp_path / "connectors"),
        source_config_overrides={c.name: {"records": 120} for c in (hubspot, salesforce)},
    )
    assets = [
        a for target, a in declared_sync_assets(settings) if target.name in (hubspot.name, salesforce.name)
    ]
    assert dg.materialize(assets, resources={"airbyte": airbyte}).success
    contacts = f"hubspot_raw.{hubspot.stream('contacts').table_name}"
    accounts = f"salesforce_raw.{salesforce.stream('Account').table_name}"
    accounts_before = _count(pg, accounts)
    assert _count(pg, contacts) > 0 and accounts_before > 0

    job = build_local_reset_job(settings)
    assert job.name == RESET_JOB_NAME
    assert job.tags[SYNC_RUN_TAG] == "true"  # an Airbyte job: the run queue's Airbyte limit counts it
    result = job.execute_in_process(
        run_config={
            "ops": {RESET_OP_NAME: {"config": {"connection": "hubspot_to_postgres", "job_type": "clear"}}}
        },
        resources={"airbyte": airbyte},
    )

    assert result.success
    emptied = {e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert set(emptied) == {hubspot.asset_key(s) for s in hubspot.streams}
    assert all(m["dagster/row_count"].value == 0 and m["rows_before"].value > 0 for m in emptied.values())
    assert all(m["airbyte/job_type"].value == "clear" for m in emptied.values())
    assert all(_count(pg, f"hubspot_raw.{s.table_name}") == 0 for s in hubspot.streams)
    assert all(read_state(postgres_dsn, "hubspot_raw", hubspot.name, s.name) is None for s in hubspot.streams)
    assert _count(pg, accounts) == accounts_before
    assert read_state(postgres_dsn, "salesforce_raw", salesforce.name, "Account") is not None

    # The next sync starts from scratch: every record again, not only those past the saved cursor.
    resynced = dg.materialize(assets[:1], resources={"airbyte": airbyte})
    records = {
        e.asset_key: e.materialization.metadata["records_synced"].value
        for e in resynced.get_asset_materialization_events()
    }
    assert (
        all(count > 0 for count in records.values())
        and _count(pg, contacts) == records[hubspot.asset_key("contacts")]
    )


def test_an_unknown_connection_fails_naming_the_declared_ones(tmp_path):
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")})
    airbyte = EmbeddedAirbyteResource(
        destinations=LocalDestinationsResource(lake_root=str(tmp_path / "lake"), home=str(tmp_path / "home")),
        connectors_dir=str(tmp_path / "connectors"),
    )
    result = build_local_reset_job(settings).execute_in_process(
        run_config={"ops": {RESET_OP_NAME: {"config": {"connection": "stripe"}}}},
        resources={"airbyte": airbyte},
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "stripe_to_postgres" in failure.step_failure_data.error.message
