"""The real `airbyte-source-faker` from PyPI, installed into its own virtualenv and synced.

The virtualenv is cached under `.local/connectors` (like local mode's own), so only the first run of
the suite on a machine pays the install (~50 s, PyPI).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from airbyte_platform.core.catalog import ConnectionSpec, LocalStandIn, StreamSpec
from airbyte_platform.core.lake import read_lake_table, read_manifest
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner
from airbyte_platform.settings import PROJECT_ROOT

FAKER = "pypi:airbyte-source-faker==7.2.1"
CACHED_CONNECTORS = PROJECT_ROOT / ".local" / "connectors"


@pytest.mark.slow  # installs a connector from PyPI into its own virtualenv (~40 s on 2 cores)
@pytest.mark.timeout(900)
def test_real_source_faker_installs_and_syncs_incrementally(tmp_path: Path):
    connection = ConnectionSpec(
        name="faker_to_lake",
        title="Faker → lake",
        source="faker",
        destination="lake",
        connection_id_variable="UNUSED",
        description="the real airbyte-source-faker",
        owners=(),
        # always_updated=false: a second sync finds nothing newer than the committed state.
        local=LocalStandIn(connector=FAKER, config={"count": 300, "seed": 5, "always_updated": False}),
        streams=(
            StreamSpec(
                name="users",
                primary_key=("id",),
                cursor_field="updated_at",
                sync_mode="incremental",
                min_records=1,
            ),
            StreamSpec(
                name="products",
                primary_key=("id",),
                cursor_field="updated_at",
                sync_mode="full_refresh",
                min_records=1,
            ),
        ),
    )
    runner = EmbeddedAirbyteRunner(
        connectors_dir=CACHED_CONNECTORS,
        lake_root=str(tmp_path / "lake"),
        postgres_dsn=None,
        log=logging.getLogger("faker"),
    )

    first = {r.stream: r for r in runner.sync(connection)}

    users = first["users"]
    assert (users.records_synced, users.total_rows) == (300, 300)
    assert first["products"].records_synced > 0
    assert users.state is not None and "updated_at" in json.dumps(users.state)
    columns = dict(users.columns)
    assert columns["address"] == "string" and columns["updated_at"] == "timestamp[us, tz=UTC]"
    table = read_lake_table(users.location)
    assert sorted(table.column("id").to_pylist()) == list(range(1, 301))
    assert json.loads(table.column("address")[0].as_py())["city"]  # nested object kept as JSON text

    second = {r.stream: r for r in runner.sync(connection, ["users"])}

    assert (second["users"].records_synced, second["users"].total_rows) == (0, 300)
    assert second["users"].state == users.state
    manifest = read_manifest(users.location)
    assert manifest is not None and len(manifest["files"]) == 1
