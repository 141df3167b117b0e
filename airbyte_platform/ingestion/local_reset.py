"""`airbyte_reset_connection` in local mode: the same job and run config as prod (reset_config.py),
done by the embedded runner: the connection's streams are emptied in their destination (lake or
PostgreSQL) and their saved state dropped, so the next sync starts from scratch.

`connection` is a declared connection's name or id; `job_type` (reset or clear) is recorded, both
do the same here, as they do on the Airbyte server for a whole connection.
"""

from collections.abc import Iterator

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, declared_connections
from airbyte_platform.core.specs import connection_id_for
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.ingestion.reset_config import (
    RESET_JOB_DESCRIPTION,
    RESET_JOB_NAME,
    RESET_JOB_TAGS,
    RESET_OP_NAME,
    ResetConfig,
)
from airbyte_platform.settings import Settings


def resolve_local_connection(connections: dict[str, ConnectionSpec], wanted: str) -> ConnectionSpec:
    """The declared connection `wanted` names (by name or id); a clear error listing them otherwise."""
    found = connections.get(wanted)
    if found is not None:
        return found
    listing = ", ".join(sorted({f"{c.name}" for c in connections.values()}))
    raise dg.Failure(
        description=f"No connection named {wanted!r}. Declared connections: {listing} "
        "(their names, or ids where the *_CONNECTION_ID variables are set).",
        allow_retries=False,
    )


def build_local_reset_job(settings: Settings) -> dg.JobDefinition:
    connections: dict[str, ConnectionSpec] = {}
    for connection in declared_connections():
        connections[connection.name] = connection
        connections.setdefault(connection_id_for(connection, settings), connection)

    @dg.op(
        name=RESET_OP_NAME,
        description="Clear all streams of one connection in its destination and drop their saved state "
        "(embedded runner), then mark its assets as emptied.",
        tags={"kind": "airbyte"},
        out={},  # it reports asset materializations only
    )
    def reset_connection(
        context: dg.OpExecutionContext, config: ResetConfig, airbyte: EmbeddedAirbyteResource
    ) -> Iterator[dg.AssetMaterialization]:
        connection = resolve_local_connection(connections, config.connection)
        context.log.info(f"{config.job_type} of connection {connection.name!r} (embedded runner)")
        for cleared in airbyte.clear_connection(context.log, connection):
            location_key = "lake_path" if connection.destination == "lake" else "dagster/table_name"
            yield dg.AssetMaterialization(
                asset_key=connection.asset_key(cleared.stream),
                description=f"Emptied by a local {config.job_type} ({cleared.clear_id}).",
                metadata={
                    "dagster/row_count": 0,
                    "rows_before": cleared.rows_before,
                    "state_dropped": cleared.had_state,
                    "airbyte/job_type": config.job_type,
                    "sync_id": cleared.clear_id,
                    location_key: cleared.location,
                },
            )

    @dg.job(name=RESET_JOB_NAME, description=RESET_JOB_DESCRIPTION, tags=RESET_JOB_TAGS)
    def reset_job() -> None:
        reset_connection()

    return reset_job
