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

RESET_JOB_NAME = "airbyte_reset_connection"
RESET_OP_NAME = "reset_airbyte_connection"  # must differ from the job (graph) name
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
