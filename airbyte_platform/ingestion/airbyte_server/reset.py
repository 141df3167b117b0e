"""`airbyte_reset_connection`: clear a connection's synced data, as an explicit job.

The seeds' advanced examples ("Reset de conexiones") reset a connection from Airflow. Here it is a
job with one op, launched with the connection to reset as run config:

    ops:
      reset_airbyte_connection:
        config: {connection: stripe_to_postgres, job_type: reset}

`connection` is a declared connection name, a discovered connection's name or key part, or a
connection id. What Airbyte allows: the public API's `POST /jobs` resets (`reset`, the name older
servers know) or clears (`clear`, its successor) the *whole* connection; per-stream resets exist
only in the internal config API, so they are not offered. A job already running for the connection
is waited for first (Airbyte would refuse the reset with 409). The streams' assets are then
recorded as materialized with 0 rows, so everything downstream shows as stale until the next sync.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform.ingestion.reset_config import (
    RESET_JOB_DESCRIPTION,
    RESET_JOB_NAME,
    RESET_JOB_TAGS,
    RESET_OP_NAME,
    ResetConfig,
)
from airbyte_platform.ingestion.sync_target import SyncTarget

__all__ = ["RESET_JOB_NAME", "RESET_OP_NAME", "ResetConfig", "build_reset_job", "resolve_target"]


def resolve_target(targets: Sequence[SyncTarget], wanted: str) -> SyncTarget:
    """The one target `wanted` names; a clear error listing candidates otherwise."""
    matches = [
        t for t in targets if wanted in (t.connection_id, t.name, t.op_name.removeprefix("airbyte_sync_"))
    ]
    unique = {t.connection_id: t for t in matches}
    if len(unique) == 1:
        return next(iter(unique.values()))
    if not unique:
        declared = sorted(t.name for t in targets if t.declared is not None)
        raise dg.Failure(
            description=f"No Airbyte connection named {wanted!r}. Declared connections: {', '.join(declared)}; "
            "discovered ones are listed by name or connection id in the Dagster UI (group airbyte_*).",
            allow_retries=False,
        )
    listing = ", ".join(f"{t.name!r} ({t.connection_id})" for t in unique.values())
    raise dg.Failure(
        description=f"{wanted!r} names several Airbyte connections ({listing}): use the connection id.",
        allow_retries=False,
    )


def build_reset_job(targets: Sequence[SyncTarget]) -> dg.JobDefinition:
    targets = tuple(targets)

    @dg.op(
        name=RESET_OP_NAME,
        description="Reset (clear) all streams of one Airbyte connection, then mark its assets as emptied.",
        tags={"kind": "airbyte"},
        out={},  # it reports asset materializations only
    )
    def reset_connection(
        context: dg.OpExecutionContext, config: ResetConfig, airbyte: AirbyteServerWorkspace
    ) -> Iterator[dg.AssetMaterialization]:
        target = resolve_target(targets, config.connection)
        context.log.info(f"{config.job_type} of Airbyte connection {target.name!r} ({target.connection_id})")
        finished, url = airbyte.clear_connection(context.log, target, config.job_type)
        for stream in target.streams:
            yield dg.AssetMaterialization(
                asset_key=stream.key,
                description=f"Emptied by Airbyte {config.job_type} job {finished.job_id}.",
                metadata={
                    "dagster/row_count": 0,
                    "airbyte/job_id": finished.job_id,
                    "airbyte/job_type": config.job_type,
                    "airbyte/job_url": dg.MetadataValue.url(url),
                },
            )

    @dg.job(
        name=RESET_JOB_NAME,
        description=RESET_JOB_DESCRIPTION,
        tags=RESET_JOB_TAGS,
    )
    def reset_job() -> None:
        reset_connection()

    return reset_job
