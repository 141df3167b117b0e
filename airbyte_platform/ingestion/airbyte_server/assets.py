"""Sync targets and their multi-assets: declared connections, then every other discovered one.

Declared connections keep the keys, groups and min-records checks of local mode (built from the
same specs); a discovered connection with a declared connection's id is that declared connection.
One multi-asset per connection (a sync is per connection), `can_subset=True`, sorted by op name so
the order of definitions never depends on the listing.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from airbyte_platform.ingestion.airbyte_server.materialize import SyncEvent
from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot
from airbyte_platform.ingestion.airbyte_server.targets import StreamTarget, SyncTarget
from airbyte_platform.ingestion.airbyte_server.translator import (
    CONNECTION_ID_KEY,
    CONNECTION_NAME_KEY,
    PlatformAirbyteTranslator,
)
from airbyte_platform.ingestion.catalog import ConnectionSpec, declared_connections
from airbyte_platform.ingestion.specs import connection_id_for, destination_location, stream_asset_spec
from airbyte_platform.ingestion.sync_ops import (
    SYNC_OP_CONFIG_SCHEMA,
    runs_for_another_connection,
    sync_op_tags,
    sync_pool,
)
from airbyte_platform.quality.min_records import min_records_check_specs
from airbyte_platform.settings import Settings


def build_sync_assets(
    target: SyncTarget, specs: Sequence[dg.AssetSpec], check_specs: Sequence[dg.AssetCheckSpec] = ()
) -> dg.AssetsDefinition:
    """One multi-asset syncing `target`'s connection, subsettable by stream.

    Built from an `OpDefinition` rather than `@dg.multi_asset`: the decorator inspects the compute
    function's signature a dozen times per op, ~40 % of the load time at 1,000 connections.
    """
    key_outputs = {_output_name(spec.key): spec.key for spec in specs}
    check_outputs = {f"{_output_name(check.asset_key)}_{check.name}": check for check in check_specs}

    def sync(context: dg.AssetExecutionContext, _inputs: object) -> Iterator[SyncEvent]:
        if runs_for_another_connection(context.op_execution_context, target.connection_id, target.name):
            return iter(())
        return context.resources.airbyte.sync_connection(context, target)

    op = dg.OpDefinition(
        name=target.op_name,
        outs=dict.fromkeys([*key_outputs, *check_outputs], _OPTIONAL_NOTHING),
        compute_fn=sync,
        required_resource_keys={"airbyte"},
        tags=sync_op_tags(target.connection_id, target.name),
        pool=sync_pool(target.op_name),
        config_schema=SYNC_OP_CONFIG_SCHEMA,
        description=f"Airbyte sync of connection {target.name!r} ({target.connection_id}).",
    )
    return dg.AssetsDefinition(
        node_def=op,
        keys_by_output_name=key_outputs,
        check_specs_by_output_name=check_outputs,
        specs=specs,
        can_subset=True,
    )


# One shared (immutable) Out: building 10,000 identical ones cost ~0.5 s per load.
_OPTIONAL_NOTHING = dg.Out(dg.Nothing, is_required=False)


def _output_name(key: dg.AssetKey) -> str:
    return "__".join(key.path)  # key parts are clean names already: a valid, unique identifier


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
        if not settings.connection_enabled(connection.connection_id_variable):
            continue  # its id variable is unset: a deployment that has not moved this connection yet
        target = declared_target(connection, settings, snapshot)
        specs = [
            stream_asset_spec(connection, stream).merge_attributes(
                metadata={CONNECTION_ID_KEY: target.connection_id, CONNECTION_NAME_KEY: connection.name}
            )
            for stream in connection.streams
        ]
        built.append((target, build_sync_assets(target, specs, min_records_check_specs(connection))))
    return built


def discovered_assets(
    snapshot: WorkspaceSnapshot, declared_ids: set[str]
) -> list[tuple[SyncTarget, dg.AssetsDefinition]]:
    translator = PlatformAirbyteTranslator(snapshot)
    built = []
    for connection in snapshot.connections:
        if connection.connection_id in declared_ids or not connection.streams:
            continue
        specs = translator.connection_specs(connection)
        destination = snapshot.destination(connection.destination_id)
        target = SyncTarget(
            connection_id=connection.connection_id,
            name=connection.name,
            op_name=f"airbyte_sync_{connection.key_part}",
            id_source="the workspace snapshot",
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
