"""Connector state whatever subset of streams a run selects, and connectors that stop early.

A GLOBAL state (a CDC source's one log position) is committed with every stream a sync covered. After
a sync of only some streams, the streams hold different GLOBAL states; the next sync must hand the
connector one GLOBAL state, from the oldest position, so that no stream misses changes (the others
read some again, deduplicated by primary key)."""

from __future__ import annotations

import logging

import pytest

from airbyte_platform.core.lake import read_lake_table
from airbyte_platform_tests.ingestion.conftest import EVENTS, ITEMS

GLOBAL = {"records": 100, "events": 10, "state_type": "GLOBAL"}


def _ids(runner, connection, pg, stream: str, column: str) -> list[int]:
    if connection.destination == "lake":
        table = read_lake_table(f"{runner.lake_root}/airbyte/{connection.source}/{stream}")
        return sorted(table.column(column).to_pylist())
    return [row[0] for row in pg.execute(f"SELECT {column} FROM {connection.source}_raw.{stream} ORDER BY 1")]


@pytest.mark.parametrize("destination", ["lake", "postgres"])
def test_global_state_after_a_sync_of_some_streams_resumes_every_stream_without_loss(
    destination, fake_connection, pg_runner, pg, caplog
):
    connection = fake_connection(destination, streams=(ITEMS, EVENTS), config=GLOBAL)
    pg_runner.sync(connection)  # both streams at log position 100
    [items] = pg_runner.sync(connection, ["items"], config={"records": 130})  # items alone to 130
    assert items.state["global"]["shared_state"] == {"position": 130}

    with caplog.at_level(logging.INFO, logger="embedded-test"):
        results = {r.stream: r for r in pg_runner.sync(connection, config={"records": 130, "events": 20})}

    # One GLOBAL state (the fake source refuses two), from events' older position: nothing missed.
    assert "resuming from log position 100" in caplog.text
    assert "resuming all from the oldest" in caplog.text
    assert _ids(pg_runner, connection, pg, "events", "seq") == list(range(1, 21))
    assert _ids(pg_runner, connection, pg, "items", "id") == list(range(130))
    assert results["items"].total_rows == 130
    assert {r.state["global"]["shared_state"]["position"] for r in results.values()} == {200}

    # Both streams now hold the same state: the next sync resumes from it and reads nothing again.
    again = pg_runner.sync(connection, config={"records": 130, "events": 20})
    assert [r.records_synced for r in again] == [0, 0]
