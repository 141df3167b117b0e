"""The one factory of sync assets, for both modes: a multi-asset per connection, an asset per stream.

Local (embedded runner) and prod (Airbyte server) build the same assets from the same `SyncTarget`:
same keys, specs, tags, metadata keys, min-records checks, op tags, pool and run config. Only the
`airbyte` resource differs; it implements `SyncBackend`.
"""

# No `from __future__ import annotations`: Dagster reads the compute function's `context` annotation.
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, declared_connections
from airbyte_platform.core.min_records import min_records_check_specs
from airbyte_platform.core.specs import connection_id_for, destination_location, stream_asset_spec
from airbyte_platform.ingestion.sync_ops import (
    SYNC_OP_CONFIG_SCHEMA,
    runs_for_another_connection,
    sync_op_tags,
    sync_pool,
)
from airbyte_platform.ingestion.sync_target import StreamTarget, SyncTarget
from airbyte_platform.settings import Settings

if TYPE_CHECKING:
    from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot

SyncEvent = dg.MaterializeResult | dg.AssetCheckResult | dg.AssetMaterialization

# The connection a stream belongs to, under dagster-airbyte's metadata namespace (AirbyteMetadataSet),
# written out so that local mode does not import dagster-airbyte to name two keys.
CONNECTION_ID_KEY = "dagster-airbyte/connection_id"
CONNECTION_NAME_KEY = "dagster-airbyte/connection_name"


class SyncBackend(Protocol):
    """What the `airbyte` resource does in either mode: sync the selected streams of one target."""

    def sync_connection(
        self, context: dg.AssetExecutionContext, target: SyncTarget
    ) -> Iterator[SyncEvent]: ...


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
        backend: SyncBackend = context.resources.airbyte
        return backend.sync_connection(context, target)

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
    connection: ConnectionSpec, settings: Settings, snapshot: "WorkspaceSnapshot | None" = None
) -> SyncTarget:
    """A declared connection as a sync target; `snapshot` (prod) adds the sync modes Airbyte reports."""
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


def declared_sync_assets(
    settings: Settings, snapshot: "WorkspaceSnapshot | None" = None
) -> list[tuple[SyncTarget, dg.AssetsDefinition]]:
    """Every declared connection's target and assets, in either mode."""
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
