"""Asset specs of discovered connections, through dagster-airbyte's translator interface.

The snapshot is turned into dagster-airbyte's `AirbyteWorkspaceData`, whose table props feed a
`DagsterAirbyteTranslator` subclass. The library's default keys (the bare table name) collide
across connections and destinations and change with the stream prefix; ours are
`airbyte/<connection part>/<stream part>`, from the snapshot's stable, unique parts.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster_airbyte import AirbyteConnectionTableProps, DagsterAirbyteTranslator
from dagster_airbyte.translator import AirbyteMetadataSet

from airbyte_platform.ingestion.airbyte_server.snapshot import (
    DiscoveredConnection,
    DiscoveredStream,
    WorkspaceSnapshot,
)
from airbyte_platform.ingestion.naming import clean_name

DISCOVERED_PREFIX = "airbyte"


class PlatformAirbyteTranslator(DagsterAirbyteTranslator):
    def __init__(self, snapshot: WorkspaceSnapshot):
        self.snapshot = snapshot
        self._connections = {c.connection_id: c for c in snapshot.connections}
        self._streams = {(c.connection_id, s.name): s for c in snapshot.connections for s in c.streams}

    def connection(self, connection_id: str) -> DiscoveredConnection:
        return self._connections[connection_id]

    def stream(self, connection_id: str, stream_name: str) -> DiscoveredStream:
        return self._streams[(connection_id, stream_name)]

    def asset_key(self, connection_id: str, stream_name: str) -> dg.AssetKey:
        connection = self.connection(connection_id)
        stream = self.stream(connection_id, stream_name)
        return dg.AssetKey([DISCOVERED_PREFIX, connection.key_part, stream.key_part])

    def group_name(self, connection_id: str) -> str:
        return f"{DISCOVERED_PREFIX}_{self.connection(connection_id).key_part}"

    def get_asset_spec(self, props: AirbyteConnectionTableProps) -> dg.AssetSpec:
        connection = self.connection(props.connection_id)
        stream = self.stream(props.connection_id, props.stream_name)
        destination_type = (
            clean_name(props.destination_type)
            if props.destination_type and props.destination_type != "unknown"
            else None
        )
        table = (
            f"{props.database}.{props.schema}.{props.table_name}" if props.database and props.schema else None
        )
        metadata: dict[str, object] = {
            **AirbyteMetadataSet(
                connection_id=props.connection_id,
                connection_name=props.connection_name,
                stream_prefix=props.stream_prefix,
            ),
            "airbyte/stream": stream.name,
            "airbyte/sync_mode": stream.sync_mode or "unknown",
        }
        if table:
            metadata.update(TableMetadataSet(table_name=table))
        return dg.AssetSpec(
            key=self.asset_key(props.connection_id, props.stream_name),
            group_name=self.group_name(props.connection_id),
            kinds={"airbyte", *([destination_type] if destination_type else [])},
            description=(
                f"`{stream.name}` stream of the Airbyte connection **{connection.name}** "
                f"(discovered in workspace {self.snapshot.workspace_id}; {stream.sync_mode or 'sync mode unknown'})."
            ),
            metadata=metadata,
        )


def discovered_specs(
    snapshot: WorkspaceSnapshot, translator: PlatformAirbyteTranslator, skip_connection_ids: set[str]
) -> dict[str, list[dg.AssetSpec]]:
    """Connection id -> its stream specs, for connections not in `skip_connection_ids`."""
    specs: dict[str, list[dg.AssetSpec]] = {}
    for props in snapshot.to_workspace_data().to_airbyte_connection_table_props_data():
        if props.connection_id not in skip_connection_ids:
            specs.setdefault(props.connection_id, []).append(translator.get_asset_spec(props))
    return specs
