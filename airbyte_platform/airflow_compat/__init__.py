"""The Airflow DAG names as Dagster jobs and schedules, and the seeds' Python API for users' code:
`AirbyteHook`, `trigger_airbyte_sync`, `validate_sync_results` (see sync_tasks.py and hook.py).

The Python API is imported on first use: the code location and the REST facade import this package
for the DAG table only and should not pay for the Airbyte client and the embedded runner.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "AirbyteHook": "airbyte_platform.airflow_compat.hook",
    "LocalAirbyteHook": "airbyte_platform.airflow_compat.local_hook",
    "SyncValidationError": "airbyte_platform.airflow_compat.sync_tasks",
    "airbyte_hook": "airbyte_platform.airflow_compat.sync_tasks",
    "trigger_airbyte_sync": "airbyte_platform.airflow_compat.sync_tasks",
    "validate_sync_results": "airbyte_platform.airflow_compat.sync_tasks",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
