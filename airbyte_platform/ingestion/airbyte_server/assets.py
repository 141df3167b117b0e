"""Sync targets and their multi-assets: declared connections, then every other discovered one.

Declared connections keep the keys, groups and min-records checks of local mode (built from the
same specs); a discovered connection with a declared connection's id is that declared connection.
One multi-asset per connection (a sync is per connection), `can_subset=True`, sorted by op name so
the order of definitions never depends on the listing.
"""


from collections.abc import Sequence

import dagster as dg
from dagster_airbyte.translator import AirbyteMetadataSet

from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot
from airbyte_platform.ingestion.airbyte_server.targets import StreamTarget, SyncTarget
from airbyte_platform.ingestion.airbyte_server.translator import PlatformAirbyteTranslator, discovered_specs
from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform.ingestion.catalog import ConnectionSpec, declared_connections
from airbyte_platform.ingestion.specs import connection_id_for, destination_location, stream_asset_spec
from airbyte_platform.quality.min_records import min_records_check_specs
from airbyte_platform.settings import Settings


def build_sync_assets(
    target: SyncTarget, specs: Sequence[dg.AssetSpec], check_specs: Sequence[dg.AssetCheckSpec] = ()
) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=target.op_name,
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        op_tags={"airbyte/connection_id": target.connection_id},
        description=f"Airbyte sync of connection {target.name!r} ({target.connection_id}).",
    )
    def _sync(context: dg.AssetExecutionContext, airbyte: AirbyteServerWorkspace):
        yield from airbyte.sync_connection(context, target)

    return _sync


def declared_target(
    connection: ConnectionSpec, settings: Settings, snapshot: WorkspaceSnapshot | None
) -> SyncTarget:
    connection_id = connection_id_for(connection, settings)
    discovered = {c.connection_id: c for c in snapshot.connections}.get(connection_id) if snapshot else None
    modes = {s.name: s.sync_mode for s in discovered.streams} if discovered else {}
    return SyncTarget(
        connection_id=connection_id,
        name=connection.name,
        op_name=f"airbyte_sync_{connection.name}",
        id_source=connection.connection_id_variable,
        workspace_id=snapshot.workspace_id
        if snapshot
        else (settings.airbyte.workspace_id if settings.airbyte else None),
        streams=tuple(
            StreamTarget(
                name=stream.name,
                key=connection.asset_key(stream),
                sync_mode=modes.get(stream.name),
                declared=stream,
                location=destination_location(connection, stream, settings.lake_root),
            )
            for stream in connection.streams
        ),
        declared=connection,
    )


def declared_assets(
    settings: Settings, snapshot: WorkspaceSnapshot | None
) -> list[tuple[SyncTarget, dg.AssetsDefinition]]:
    built = []
    for connection in declared_connections():
        target = declared_target(connection, settings, snapshot)
        specs = [
            stream_asset_spec(connection, stream).merge_attributes(
                metadata=AirbyteMetadataSet(
                    connection_id=target.connection_id, connection_name=connection.name
                )
            )
            for stream in connection.streams
        ]
        built.append((target, build_sync_assets(target, specs, min_records_check_specs(connection))))
    return built


def discovered_assets(
    snapshot: WorkspaceSnapshot, declared_ids: set[str]
) -> list[tuple[SyncTarget, dg.AssetsDefinition]]:
    translator = PlatformAirbyteTranslator(snapshot)
    specs_by_connection = discovered_specs(snapshot, translator, skip_connection_ids=declared_ids)
    built = []
    for connection in snapshot.connections:
        specs = specs_by_connection.get(connection.connection_id)
        if not specs:
            continue  # declared, or no selected stream
        destination = snapshot.destination(connection.destination_id)
        target = SyncTarget(
            connection_id=connection.connection_id,
            name=connection.name,
            op_name=f"airbyte_sync_{connection.key_part}",
            id_source="the workspace snapshot",
            workspace_id=snapshot.workspace_id,
            streams=tuple(
                StreamTarget(
                    name=stream.name,
                    key=translator.asset_key(connection.connection_id, stream.name),
                    sync_mode=stream.sync_mode,
                )
                for stream in connection.streams
            ),
            destination_type=destination.destination_type if destination else None,
        )
        built.append((target, build_sync_assets(target, specs)))
    return built


def reserved_key_parts() -> set[str]:
    """Declared connection names: no discovered op may be called `airbyte_sync_<declared name>`."""
    return {connection.name for connection in declared_connections()}
