"""The local-mode `airbyte` resource (a `SyncBackend`): syncs declared connections with the embedded runner.

It reports the same materialization metadata a real Airbyte sync reports in prod (row counts,
column schema, table or lake path, records, bytes, duration, sync id), so the Dagster UI plots the
same series whichever mode produced them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.min_records import min_records_result
from airbyte_platform.ingestion.embedded.defaults import CHECKPOINT_SECONDS, LOCK_TIMEOUT_SECONDS
from airbyte_platform.ingestion.sync_target import SyncTarget

if TYPE_CHECKING:
    # The runner (DuckDB, pyarrow, numpy) is imported by the sync step that uses it, not by every
    # process that loads the code location.
    from airbyte_platform.ingestion.embedded.clear import ClearedStream
    from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner, StreamSyncResult


class EmbeddedAirbyteResource(dg.ConfigurableResource):
    """Runs Airbyte-protocol source connectors as subprocesses into the local lake and PostgreSQL."""

    destinations: DestinationsResource
    connectors_dir: str = Field(description="Where each PyPI connector gets its own virtualenv.")
    source_config_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per connection name, keys merged over its local source config (e.g. {'records': 1000000}).",
    )

    lock_timeout_seconds: float = Field(
        default=LOCK_TIMEOUT_SECONDS,
        description="How long a sync waits for another sync of the same stream before it fails.",
    )
    checkpoint_seconds: float = Field(
        default=CHECKPOINT_SECONDS,
        description="How often at most an incremental sync commits the data up to a connector STATE.",
    )

    def runner(self, log: logging.Logger | None = None) -> EmbeddedAirbyteRunner:
        from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner

        return EmbeddedAirbyteRunner(
            connectors_dir=Path(self.connectors_dir),
            lake_root=self.destinations.lake_root,
            postgres_dsn=self.destinations.postgres_uri(),
            log=log,
            lock_timeout=self.lock_timeout_seconds,
            checkpoint_seconds=self.checkpoint_seconds,
        )

    def sync_connection(
        self, context: dg.AssetExecutionContext, target: SyncTarget
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """Sync the selected streams of `target`, then report each stream and its min-records check."""
        connection = target.declared
        if connection is None:  # only declared connections have a local stand-in to run
            raise dg.Failure(
                f"connection {target.name!r} is not declared in connections.yaml: the embedded runner "
                "only syncs declared connections (their local stand-ins)"
            )
        selected = selected_streams(context, connection)
        context.log.info(
            f"Syncing {len(selected)} of {len(connection.streams)} streams of {connection.name} "
            f"({connection.local.connector} -> {connection.destination}): {', '.join(s.name for s in selected)}"
        )
        config = {**connection.local.config, **self.source_config_overrides.get(connection.name, {})}
        results = self.runner(context.log).sync(connection, [s.name for s in selected], config=config)
        for result in sorted(results, key=lambda r: r.stream):
            stream = connection.stream(result.stream)
            yield dg.MaterializeResult(
                asset_key=connection.asset_key(stream),
                metadata=materialization_metadata(connection, result),
            )
            yield min_records_result(connection, stream, result.total_rows)

    def clear_connection(self, log: logging.Logger, connection: ConnectionSpec) -> list[ClearedStream]:
        """Reset/clear: empty every stream of `connection` in its destination and drop its saved state."""
        from airbyte_platform.ingestion.embedded.clear import clear_connection

        return clear_connection(
            connection,
            lake_root=self.destinations.lake_root,
            postgres_dsn=self.destinations.postgres_uri() if connection.destination != "lake" else None,
            log=log,
            lock_timeout=self.lock_timeout_seconds,
        )


def selected_streams(context: dg.AssetExecutionContext, connection: ConnectionSpec) -> list[StreamSpec]:
    """The streams whose assets this run materializes (a subset when only some were selected)."""
    keys = set(context.selected_asset_keys)
    return [stream for stream in connection.streams if connection.asset_key(stream) in keys]


def materialization_metadata(
    connection: ConnectionSpec, result: StreamSyncResult
) -> dict[str, dg.RawMetadataValue]:
    location_key = "lake_path" if connection.destination == "lake" else "dagster/table_name"
    return {
        "dagster/row_count": result.total_rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=type_) for name, type_ in result.columns]
        ),
        location_key: result.location,
        "records_synced": result.records_synced,
        "bytes_synced": result.bytes_synced,
        "duration_seconds": round(result.duration_seconds, 3),
        "records_per_second": round(result.records_synced / result.duration_seconds, 1)
        if result.duration_seconds > 0
        else 0.0,
        # Where a slow sync spent its time, plottable per phase: install/spec/check/discover, read, publish.
        **{f"{phase}_seconds": round(seconds, 3) for phase, seconds in result.phase_seconds.items()},
        "sync_id": result.sync_id,
        "airbyte/connector": connection.local.connector,
        # records_synced and dagster/row_count differ for a reason, stated here (see docs/sync-semantics.md).
        "rows_added": result.rows_added,
        **_reconciliation(connection, result),
    }


def _reconciliation(connection: ConnectionSpec, result: StreamSyncResult) -> dict[str, dg.RawMetadataValue]:
    stream = connection.stream(result.stream)
    metadata: dict[str, dg.RawMetadataValue] = {}
    if stream.sync_mode == "incremental" and stream.primary_key:
        # New versions of rows already there (or several versions of one key within the sync).
        metadata["records_replacing_a_row"] = max(0, result.records_synced - result.rows_added)
        metadata["records_without_primary_key"] = result.records_without_primary_key
    if result.stored_rows is not None:
        metadata["lake/stored_rows"] = result.stored_rows  # every version; readers see one per key
    if result.warnings:
        metadata["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in result.warnings))
    return metadata


def stream_names(streams: Sequence[StreamSpec]) -> list[str]:
    return [stream.name for stream in streams]
