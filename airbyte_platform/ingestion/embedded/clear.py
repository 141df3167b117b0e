"""Reset/clear a connection locally: empty its streams in their destination and forget their state.

What Airbyte's reset (`clear` in newer versions) does to a connection, done by the embedded
runner's destinations: the next sync of a cleared stream starts from scratch (no state), and until
then readers see an empty table with its columns. PostgreSQL streams are cleared in one transaction
(all or nothing); each lake stream in one manifest replacement. Only this connection's streams are
touched: other connections' tables, folders and state rows stay as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec
from airbyte_platform.core.specs import destination_location, postgres_schema
from airbyte_platform.ingestion.embedded.defaults import LOCK_TIMEOUT_SECONDS
from airbyte_platform.ingestion.embedded.lake import clear_lake_stream
from airbyte_platform.ingestion.embedded.postgres import clear_postgres_streams
from airbyte_platform.ingestion.embedded.runner import new_sync_id


@dataclass(frozen=True)
class ClearedStream:
    stream: str
    location: str  # lake URI of the stream folder, or schema.table
    rows_before: int  # rows readers saw before the clear
    had_state: bool  # a saved state was dropped (the next sync would have resumed from it)
    clear_id: str


def clear_connection(
    connection: ConnectionSpec,
    *,
    lake_root: str,
    postgres_dsn: str | None,
    streams: Sequence[StreamSpec] | None = None,
    log: logging.Logger | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> list[ClearedStream]:
    """Clear `streams` (default: every stream) of `connection`; waits for a running sync of a stream."""
    log = log or logging.getLogger(__name__)
    selected = list(streams if streams is not None else connection.streams)
    clear_id = new_sync_id()
    if connection.destination == "lake":
        cleared = []
        for stream in selected:
            result = clear_lake_stream(
                destination_location(connection, stream, lake_root),
                connection.name,
                clear_id,
                log=log,
                lock_timeout=lock_timeout,
            )
            cleared.append(
                ClearedStream(stream.name, result.location, result.rows_before, result.had_state, clear_id)
            )
    else:
        if postgres_dsn is None:
            raise ValueError(f"connection {connection.name!r} writes to PostgreSQL, but no DSN is configured")
        tables = clear_postgres_streams(
            postgres_dsn,
            postgres_schema(connection),
            connection.name,
            {stream.name: stream.table_name for stream in selected},
            log=log,
            lock_timeout=lock_timeout,
        )
        cleared = [
            ClearedStream(
                s.name,
                tables[s.name].location,
                tables[s.name].rows_before,
                tables[s.name].had_state,
                clear_id,
            )
            for s in selected
        ]
    for item in cleared:
        log.info(
            f"{connection.name}: cleared {item.stream} at {item.location} ({item.rows_before} rows"
            f"{', state dropped' if item.had_state else ''}); the next sync starts from scratch"
        )
    return cleared
