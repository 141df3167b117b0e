"""The reset/clear job's name and run config, shared by both modes (light: no client, no runner).

    ops:
      reset_airbyte_connection:
        config: {connection: stripe_to_postgres, job_type: reset}

prod (airbyte_server/reset.py) asks the Airbyte server for a reset or clear job; local
(local_reset.py) clears the embedded runner's destination and state. Same job, same config.
"""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG

RESET_JOB_NAME = "airbyte_reset_connection"
RESET_OP_NAME = "reset_airbyte_connection"  # must differ from the job (graph) name
# A reset or clear is an Airbyte job on the same workers as a sync: the run queue's limit on concurrent
# `airbyte/sync` runs (the total that protects Airbyte's workers) counts it too.
RESET_JOB_TAGS = {"airbyte/job_type": "reset", SYNC_RUN_TAG: "true"}
RESET_JOB_DESCRIPTION = (
    "Reset de conexiones: clear the synced data of one Airbyte connection (run config: connection)."
)


class ResetConfig(dg.Config):
    connection: str = Field(
        description="Declared connection name (e.g. stripe_to_postgres), discovered connection name, or connection id."
    )
    job_type: Literal["reset", "clear"] = Field(
        default="reset", description="`reset` (all Airbyte versions) or `clear` (Airbyte >= 0.63)."
    )
