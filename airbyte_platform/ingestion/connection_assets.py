"""One multi-asset per declared connection: one asset per stream, its min-records checks attached.

`can_subset=True`: selecting some streams of a connection in the UI syncs only those streams.
The op is bound to the `airbyte` resource, which is the embedded runner locally and the Airbyte
server in prod; both yield the same keys, metadata names and checks.
"""

import dagster as dg

from airbyte_platform.ingestion.catalog import ConnectionSpec, declared_connections
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.ingestion.specs import connection_asset_specs
from airbyte_platform.quality.min_records import min_records_check_specs


def build_connection_assets(connection: ConnectionSpec) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"airbyte_sync_{connection.name}",
        specs=connection_asset_specs(connection),
        check_specs=min_records_check_specs(connection),
        can_subset=True,
        op_tags={"airbyte/connection": connection.name},
        description=f"Airbyte sync of {connection.title}.",
    )
    def _sync(context: dg.AssetExecutionContext, airbyte: EmbeddedAirbyteResource):
        yield from airbyte.sync_connection(context, connection)

    return _sync


def build_local_ingestion_assets() -> list[dg.AssetsDefinition]:
    return [build_connection_assets(connection) for connection in declared_connections()]
