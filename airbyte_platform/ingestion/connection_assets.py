"""One multi-asset per declared connection: one asset per stream, its min-records checks attached.

`can_subset=True`: selecting some streams of a connection in the UI syncs only those streams.
The op is bound to the `airbyte` resource, which is the embedded runner locally and the Airbyte
server in prod; both yield the same keys, metadata names and checks, and both ops carry the same
tags, pool and run config (ingestion/sync_ops.py).
"""

import dagster as dg

from airbyte_platform.ingestion.catalog import ConnectionSpec, declared_connections
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.ingestion.specs import connection_asset_specs, connection_id_for
from airbyte_platform.ingestion.sync_ops import (
    SYNC_OP_CONFIG_SCHEMA,
    runs_for_another_connection,
    sync_op_tags,
    sync_pool,
)
from airbyte_platform.quality.min_records import min_records_check_specs
from airbyte_platform.settings import Settings


def build_connection_assets(connection: ConnectionSpec, connection_id: str) -> dg.AssetsDefinition:
    op_name = f"airbyte_sync_{connection.name}"

    @dg.multi_asset(
        name=op_name,
        specs=connection_asset_specs(connection),
        check_specs=min_records_check_specs(connection),
        can_subset=True,
        op_tags=sync_op_tags(connection_id, connection.name),
        pool=sync_pool(op_name),
        config_schema=SYNC_OP_CONFIG_SCHEMA,
        description=f"Airbyte sync of {connection.title}.",
    )
    def _sync(context: dg.AssetExecutionContext, airbyte: EmbeddedAirbyteResource):
        if runs_for_another_connection(context.op_execution_context, connection_id, connection.name):
            return
        yield from airbyte.sync_connection(context, connection)

    return _sync


def build_local_ingestion_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return [
        build_connection_assets(connection, connection_id_for(connection, settings))
        for connection in declared_connections()
    ]
