"""spec/check/discover are asked once per connector version and config, as the Airbyte platform does,
then reused until they expire or a sync fails (the next sync asks again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airbyte_platform.ingestion.embedded.prepared import PREPARED_TTL_SECONDS, PreparedCache
from airbyte_platform.ingestion.embedded.runner import EmbeddedSyncError
from airbyte_platform_tests.ingestion.conftest import ITEMS, make_runner


def _calls(path: Path) -> list[str]:
    """The commands the connector ran since the last look (spec takes no config: not counted)."""
    calls = sorted(path.read_text().split()) if path.exists() else []
    path.unlink(missing_ok=True)
    return calls


def test_a_second_sync_of_the_same_connector_and_config_only_reads(fake_connection, tmp_path, lake_root):
    now = [1_800_000_000.0]
    cache = PreparedCache(tmp_path / "prepared", clock=lambda: now[0])
    runner = make_runner(tmp_path, lake_root, None, prepared=cache)
    calls = tmp_path / "calls.txt"
    connection = fake_connection(streams=(ITEMS,), config={"records": 100, "calls_file": str(calls)})

    runner.sync(connection)
    assert _calls(calls) == ["check", "discover", "read"]
    [again] = runner.sync(connection, config={"records": 120})  # another config: asked again
    assert _calls(calls) == ["check", "discover", "read"] and again.records_synced == 20
    [third] = runner.sync(connection, config={"records": 120})
    assert _calls(calls) == ["read"] and third.records_synced == 0

    now[0] += PREPARED_TTL_SECONDS  # expired: the connector is asked again
    runner.sync(connection, config={"records": 120})
    assert _calls(calls) == ["check", "discover", "read"]


def test_a_failed_sync_forgets_the_answers(fake_connection, tmp_path, lake_root):
    runner = make_runner(tmp_path, lake_root, None)
    calls = tmp_path / "calls.txt"
    config = {"records": 100, "calls_file": str(calls), "fail": {"mode": "crash", "after": 10}}
    connection = fake_connection(streams=(ITEMS,), config=config)

    for _ in range(2):
        with pytest.raises(EmbeddedSyncError, match="exited with code 3"):
            runner.sync(connection)
        assert _calls(calls) == ["check", "discover", "read"]  # asked again after the failure
