"""A bounded soak: 20 incremental syncs in a row of a source whose records keep changing, with the
connector crashing or stopping early at random points. After every sync, readers see exactly the
latest version of each key up to the committed state (checkpoints at every STATE), and at the end
the state is the source's last checkpoint and every key has one row, its latest version."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from airbyte_platform.core.lake import read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded.postgres import read_state
from airbyte_platform.ingestion.embedded.runner import EmbeddedSyncError
from airbyte_platform_tests.ingestion.conftest import ITEMS, make_runner
from airbyte_platform_tests.ingestion.test_embedded_checkpoints import _cursor

SYNCS = 20


def _latest(changes: list[list[Any]], up_to: int | None) -> list[tuple[int, str]]:
    latest: dict[int, str] = {}
    for item_id, cursor, name in changes:
        if up_to is not None and cursor <= up_to:
            latest[item_id] = name
    return sorted(latest.items())


def _rows(runner, connection, pg) -> tuple[list[tuple[int, str]], int | None]:
    """(id, name) of every row readers see, sorted, and the committed cursor."""
    if connection.destination == "lake":
        table = read_lake_table(f"{runner.lake_root}/airbyte/{connection.source}/items")
        rows = sorted(zip(table.column("id").to_pylist(), table.column("name").to_pylist(), strict=True))
        return rows, _cursor(read_manifest(f"{runner.lake_root}/airbyte/{connection.source}/items")["state"])
    schema = f"{connection.source}_raw"
    rows = [tuple(r) for r in pg.execute(f"SELECT id, name FROM {schema}.items ORDER BY id")]
    return rows, _cursor(read_state(runner.postgres_dsn, schema, connection.name, "items"))


@pytest.mark.parametrize("destination", ["lake", "postgres"])
def test_twenty_incremental_syncs_with_crashes_and_updates_end_exact(
    destination, fake_connection, tmp_path, lake_root, postgres_dsn, pg
):
    rng = random.Random(20261204)
    runner = make_runner(tmp_path, lake_root, postgres_dsn, checkpoint_seconds=0)
    # The connection's config stays the same (spec/check/discover are reused, as in production);
    # the source's data and its misbehaviour of each sync come from a file.
    overrides = tmp_path / "source.json"
    connection = fake_connection(
        destination, streams=(ITEMS,), config={"records": 0, "overrides_file": str(overrides)}
    )
    changes: list[list[Any]] = []  # the source's change log: [id, cursor, name]
    next_id, cursor, failures = 0, 0, 0
    for sync in range(SYNCS):
        for _ in range(rng.randint(0, 25)):  # new records, and new versions of existing ones
            cursor += 1
            if next_id and rng.random() < 0.4:
                item_id = rng.randrange(next_id)
            else:
                item_id, next_id = next_id, next_id + 1
            changes.append([item_id, cursor, f"item {item_id} at {cursor}"])
        source: dict[str, Any] = {"changes": changes, "state_every": rng.randint(2, 7)}
        if sync < SYNCS - 1 and rng.random() < 0.5:
            source["fail"] = {"mode": rng.choice(["crash", "stop_early"]), "after": rng.randint(0, 20)}
        overrides.write_text(json.dumps(source))
        try:
            runner.sync(connection)
        except EmbeddedSyncError:
            failures += 1
            assert "fail" in source, "a sync without an injected failure failed"
        rows, state = _rows(runner, connection, pg)
        # Exactly what was committed: the latest version of each key up to the committed state.
        assert rows == _latest(changes, state), f"sync {sync}"

    assert failures >= 3  # the seed injects failures that did fail (not all fall past the end of a read)
    rows, state = _rows(runner, connection, pg)
    assert state == cursor == changes[-1][1]
    assert rows == _latest(changes, cursor) and len(rows) == next_id
