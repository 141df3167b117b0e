"""Refresh the Airbyte workspace snapshot: `python -m airbyte_platform.ingestion.airbyte_server.refresh`.

Run it after connections are added, renamed or change streams in Airbyte (or on a schedule, e.g. an
init container before the code server starts), then reload the code location. Reads the same
environment as the code location (AIRBYTE_PLATFORM_MODE=prod, AIRBYTE_API_URL, credentials).
"""

from __future__ import annotations

import argparse
import sys
import time

from airbyte_platform.ingestion.airbyte_server.defs import refresh_snapshot, snapshot_path
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
    try:
        snapshot = refresh_snapshot(settings)
    except Exception as exc:
        print(f"Refreshing the Airbyte workspace snapshot failed: {exc}", file=sys.stderr)
        return 1
    streams = sum(len(c.streams) for c in snapshot.connections)
    print(
        f"Wrote {snapshot_path(settings)}: workspace {snapshot.workspace_id}, {len(snapshot.connections)} "
        f"connections, {streams} streams, {snapshot.http_calls} HTTP calls in {time.perf_counter() - started:.2f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
