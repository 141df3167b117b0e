"""Asset specs of the declared Airbyte streams, shared by local (embedded) and prod (Airbyte server) mode.

Both modes build their multi-assets from these specs, so the graph the Dagster UI shows is the
same whichever resources are bound.
"""

from __future__ import annotations

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec, declared_connections
from airbyte_platform.settings import Settings

LAKE_PREFIX = "airbyte"


def destination_location(connection: ConnectionSpec, stream: StreamSpec, lake_root: str) -> str:
    """Where a stream lands: `<lake>/airbyte/<source>/<table>` or `<source>_raw.<table>` in PostgreSQL."""
    if connection.destination == "lake":
        return f"{lake_root}/{LAKE_PREFIX}/{connection.group_name}/{stream.table_name}"
    return f"{postgres_schema(connection)}.{stream.table_name}"


def postgres_schema(connection: ConnectionSpec) -> str:
    return f"{connection.group_name}_raw"


def stream_asset_spec(connection: ConnectionSpec, stream: StreamSpec) -> dg.AssetSpec:
    mode = "incremental" if stream.sync_mode == "incremental" else "full refresh"
    pk = ", ".join(stream.primary_key) or "none"
    return dg.AssetSpec(
        key=connection.asset_key(stream),
        group_name=connection.group_name,
        kinds=connection.kinds,
        owners=list(connection.owners),
        description=(
            f"`{stream.name}` stream of the Airbyte connection **{connection.title}** ({mode}, primary key {pk}). "
            f"{connection.description}"
        ),
        tags={"airbyte/connection": connection.name, "airbyte/destination": connection.destination},
        metadata={
            "airbyte/connection_name": connection.name,
            "airbyte/connection_id_variable": connection.connection_id_variable,
            "airbyte/stream": stream.name,
            "airbyte/sync_mode": stream.sync_mode,
            "airbyte/min_records": stream.min_records,
        },
    )


def connection_asset_specs(connection: ConnectionSpec) -> list[dg.AssetSpec]:
    return [stream_asset_spec(connection, stream) for stream in connection.streams]


def connection_id_for(connection: ConnectionSpec, settings: Settings) -> str:
    """The Airbyte connection id: the documented variable in prod, the connection's name locally."""
    if settings.is_local:
        return settings.connection_ids.get(connection.connection_id_variable, connection.name)
    try:
        return settings.connection_ids[connection.connection_id_variable]
    except KeyError as exc:
        raise KeyError(
            f"connection {connection.name!r} has no id: set {connection.connection_id_variable}"
        ) from exc


def connection_for_id(connection_id: str, settings: Settings) -> ConnectionSpec | None:
    """The declared connection whose id (or, locally, name) is `connection_id`."""
    for connection in declared_connections():
        if not settings.connection_enabled(connection.connection_id_variable):
            continue  # prod without its id: not part of this deployment
        if connection_id in (connection_id_for(connection, settings), connection.name):
            return connection
    return None


def asset_keys_for_connection_id(connection_id: str, settings: Settings) -> list[dg.AssetKey]:
    connection = connection_for_id(connection_id, settings)
    if connection is None:
        return []
    return [connection.asset_key(stream) for stream in connection.streams]
