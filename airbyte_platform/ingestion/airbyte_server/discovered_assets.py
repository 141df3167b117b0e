"""Sync targets and assets of the workspace's other connections: every discovered, undeclared one.

Declared connections are built by `ingestion/sync_assets.py` in both modes; a discovered connection
with a declared connection's id is that declared connection. Built with the same factory, sorted by
op name by the caller so the order of definitions never depends on the listing.
"""

import dagster as dg

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.ingestion.airbyte_server.run_scope import EVERYTHING, RunScope
from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot
from airbyte_platform.ingestion.airbyte_server.translator import PlatformAirbyteTranslator
from airbyte_platform.ingestion.sync_assets import build_sync_assets
from airbyte_platform.ingestion.sync_target import StreamTarget, SyncTarget


def discovered_assets(
    snapshot: WorkspaceSnapshot, declared_ids: set[str], scope: RunScope = EVERYTHING
) -> list[tuple[SyncTarget, dg.AssetsDefinition]]:
    translator = PlatformAirbyteTranslator(snapshot)
    built = []
    for connection in snapshot.connections:
        if connection.connection_id in declared_ids or not connection.streams:
            continue
        if not scope.includes(connection.key_part):
            continue
        specs = translator.connection_specs(connection)
        destination = snapshot.destination(connection.destination_id)
        target = SyncTarget(
            connection_id=connection.connection_id,
            name=connection.name,
            op_name=f"airbyte_sync_{connection.key_part}",
            id_source="the Airbyte workspace state",
            workspace_id=snapshot.workspace_id,
            streams=tuple(
                StreamTarget(
                    name=stream.name, key=spec.key, sync_mode=stream.sync_mode, namespace=stream.namespace
                )
                for stream, spec in zip(connection.streams, specs, strict=True)
            ),
            destination_type=destination.destination_type if destination else None,
        )
        built.append((target, build_sync_assets(target, specs)))
    return built


def reserved_key_parts() -> set[str]:
    """Declared connection names: no discovered op may be called `airbyte_sync_<declared name>`."""
    return {connection.name for connection in declared_connections()}
