"""Refresh the Airbyte workspace state: `python -m airbyte_platform.ingestion.airbyte_server.refresh`.

Run it after connections are added, renamed or change streams in Airbyte (or on a schedule, e.g. a
Kubernetes CronJob), then reload the code location. It stores a new version in the instance's
defs-state storage, as `dg utils refresh-defs-state` does in a checkout (the image has no `dg`).
Reads the same environment as the code location (AIRBYTE_PLATFORM_MODE=prod, AIRBYTE_API_URL,
credentials) and the instance of DAGSTER_HOME.
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg
from dagster._core.errors import DagsterHomeNotSetError

from airbyte_platform.ingestion.airbyte_server.workspace_state import AirbyteWorkspaceState
from airbyte_platform.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings.airbyte is None or settings.is_local:
        print(
            "Set AIRBYTE_PLATFORM_MODE=prod and the AIRBYTE_* variables to refresh from Airbyte.",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    state = AirbyteWorkspaceState(settings)
    try:
        with dg.DagsterInstance.get():
            snapshot = state.refresh()
    except DagsterHomeNotSetError:
        print(
            "Set DAGSTER_HOME to the instance whose defs-state storage the code server reads.",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        print(f"Refreshing the Airbyte workspace state failed: {exc}", file=sys.stderr)
        return 1
    streams = sum(len(c.streams) for c in snapshot.connections)
    print(
        f"Stored {state.defs_state_config.key}: workspace {snapshot.workspace_id}, {len(snapshot.connections)} "
        f"connections, {streams} streams, {snapshot.http_calls} HTTP calls in {time.perf_counter() - started:.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
