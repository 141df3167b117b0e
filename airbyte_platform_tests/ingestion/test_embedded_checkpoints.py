"""Checkpoints and unfinished reads, through the fake connector as a real subprocess.

Incremental streams commit their data up to a STATE, with that STATE, as the sync goes (here at every
STATE: `checkpoint_seconds=0`), so an interrupted sync resumes from its last checkpoint; full refresh
streams still publish only when the read finished. A connector that exits 0 without finishing (no
COMPLETE stream status; without statuses, records after its last STATE) fails the sync."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airbyte_platform.core.lake import LakeError, read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded.postgres import read_state
from airbyte_platform.ingestion.embedded.runner import EmbeddedSyncError
from airbyte_platform_tests.ingestion.conftest import EVENTS, ITEMS, make_runner

EVENTS_FULL_REFRESH = replace(EVENTS, sync_mode="full_refresh")


@pytest.fixture
def checkpointing_runner(tmp_path, lake_root, postgres_dsn):
    return make_runner(tmp_path, lake_root, postgres_dsn, checkpoint_seconds=0)


def _visible(runner, connection, pg, stream: str, column: str) -> tuple[list[Any], Any]:
    """The rows readers see of a stream (sorted `column` values) and its committed state."""
    if connection.destination == "lake":
        location = f"{runner.lake_root}/airbyte/{connection.source}/{stream}"
        manifest = read_manifest(location)
        return sorted(read_lake_table(location).column(column).to_pylist()), manifest and manifest["state"]
    schema = f"{connection.source}_raw"
    rows = [r[0] for r in pg.execute(f"SELECT {column} FROM {schema}.{stream} ORDER BY 1").fetchall()]
    return rows, read_state(runner.postgres_dsn, schema, connection.name, stream)


def _cursor(state: Any) -> int | None:
    return state["stream"]["stream_state"]["cursor"] if state else None


@pytest.mark.parametrize("destination", ["lake", "postgres"])
def test_an_interrupted_incremental_sync_keeps_its_last_checkpoint_and_resumes_there(
    destination, fake_connection, checkpointing_runner, pg
):
    connection = fake_connection(destination, streams=(ITEMS, EVENTS_FULL_REFRESH))
    checkpointing_runner.sync(connection, config={"records": 10, "events": 5})

    # Items 10.. are read, STATE at cursors 25 and 50, then the connector crashes after item 69.
    with pytest.raises(EmbeddedSyncError) as failure:
        checkpointing_runner.sync(
            connection, config={"records": 100, "events": 8, "fail": {"mode": "crash", "after": 60}}
        )

    assert (
        "committed at its last checkpoint and kept, the next sync resumes there: 40 records of stream items"
        in str(failure.value)
    )
    ids, state = _visible(checkpointing_runner, connection, pg, "items", "id")
    assert (ids, _cursor(state)) == (list(range(50)), 50)
    # The full refresh stream publishes only a finished read: its previous data is untouched.
    assert _visible(checkpointing_runner, connection, pg, "events", "seq")[0] == [1, 2, 3, 4, 5]

    results = {
        r.stream: r for r in checkpointing_runner.sync(connection, config={"records": 100, "events": 8})
    }
    assert (results["items"].records_synced, results["items"].total_rows) == (50, 100)
    ids, state = _visible(checkpointing_runner, connection, pg, "items", "id")
    assert (ids, _cursor(state)) == (list(range(100)), 100)
    assert results["events"].total_rows == 8


@pytest.mark.parametrize("destination", ["lake", "postgres"])
def test_a_connector_exiting_0_before_its_streams_complete_fails_the_sync(
    destination, fake_connection, pg_runner, pg
):
    connection = fake_connection(destination, streams=(ITEMS,))
    pg_runner.sync(connection)
    before = _visible(pg_runner, connection, pg, "items", "id")

    with pytest.raises(
        EmbeddedSyncError,
        match=r"stream 'items': the connector exited 0 without finishing: "
        r"stream items ended with status STARTED \(no COMPLETE stream status\)",
    ):
        pg_runner.sync(
            connection, config={"records": 200, "statuses": True, "fail": {"mode": "stop_early", "after": 60}}
        )
    # Without statuses: 10 records after the STATE at cursor 150 (records 100.. read, STATE every 25).
    with pytest.raises(EmbeddedSyncError, match=r"10 records of stream items came after its last STATE"):
        pg_runner.sync(connection, config={"records": 200, "fail": {"mode": "stop_early", "after": 60}})

    assert _visible(pg_runner, connection, pg, "items", "id") == before  # no checkpoint was due
    [finished] = pg_runner.sync(connection, config={"records": 200, "statuses": True})
    assert (finished.records_synced, finished.total_rows) == (100, 200)


def test_a_failed_first_sync_leaves_no_table_in_the_lake(fake_connection, lake_runner):
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 100, "fail": {"mode": "crash", "after": 10}}
    )

    with pytest.raises(EmbeddedSyncError, match="exited with code 3"):
        lake_runner.sync(connection)

    folder = Path(lake_runner.lake_root) / "airbyte" / connection.source / "items"
    assert read_manifest(str(folder)) is None and not list(folder.glob("*.parquet"))
    with pytest.raises(LakeError, match="no sync has published this table yet"):
        read_lake_table(str(folder))
