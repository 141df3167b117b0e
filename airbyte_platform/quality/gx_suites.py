"""Great Expectations 1.x checkpoints as Dagster asset checks (the seeds' GreatExpectationsOperator).

`dagster-ge` only supports GX 0.x, so the checks call GX 1.x directly: each connection's checkpoint
(gx_checkpoints.py: bundled, or the GX project at GX_CONTEXT_ROOT_DIR) runs by name, expectations
as SQL in the analytics PostgreSQL or on the lake table as its readers see it. Suites are GX's own
JSON (`gx_suites/<source>/<stream>.json`), so a suite edited in GX tooling drops in unchanged. One
suite serves a stream wherever it lands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec, declared_connections
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.quality.gx_checkpoints import checkpoint_name, run_connection_checkpoint
from airbyte_platform.quality.gx_results import CHECK_NAME, stream_check_results

SUITES_DIR = Path(__file__).resolve().parent / "gx_suites"


def suite_path(connection: ConnectionSpec, stream: StreamSpec) -> Path:
    return SUITES_DIR / connection.group_name / f"{stream.name}.json"


@cache
def load_suite_document(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return json.load(handle)


def build_gx_checks_for(
    connection: ConnectionSpec, gx_project: Path | None = None
) -> dg.AssetChecksDefinition | None:
    """The `gx_suite` checks of one connection's streams, as one op running its checkpoint.

    One op per connection rather than per stream: each op is a process under the multiprocess
    executor, and a checkpoint validates a connection's streams in one run (as the seeds' operator did).
    """
    suites = {
        connection.asset_key(stream): (stream, path)
        for stream in connection.streams
        if (path := suite_path(connection, stream)).exists()
    }
    if not suites:
        return None
    checkpoint = checkpoint_name(connection)
    specs = [
        dg.AssetCheckSpec(
            name=CHECK_NAME,
            asset=key,
            blocking=True,  # fail_task_on_validation_failure=True in stripe_etl_validated
            description=f"Great Expectations suite `{load_suite_document(path)['name']}` "
            f"({path.relative_to(SUITES_DIR)}), checkpoint `{checkpoint}`.",
        )
        for key, (_, path) in suites.items()
    ]

    @dg.multi_asset_check(specs=specs, name=f"gx_suites_{connection.name}", can_subset=True)
    def _gx_checks(context, destinations: DestinationsResource) -> Iterator[dg.AssetCheckResult]:
        documents = {stream.name: load_suite_document(path) for stream, path in suites.values()}
        run = run_connection_checkpoint(connection, documents, destinations, gx_project)
        results = stream_check_results(connection, [stream for stream, _ in suites.values()], run)
        for check_key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            stream, _ = suites[check_key.asset_key]
            yield results[stream.name]

    return _gx_checks


def build_gx_checks(
    connections: tuple[ConnectionSpec, ...] | None = None, gx_project: Path | None = None
) -> list[dg.AssetChecksDefinition]:
    """`gx_project`: the GX project whose checkpoints replace the bundled ones (GX_CONTEXT_ROOT_DIR)."""
    checks = (
        build_gx_checks_for(connection, gx_project)
        for connection in (connections if connections is not None else declared_connections())
    )
    return [check for check in checks if check is not None]
