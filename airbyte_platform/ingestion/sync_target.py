"""What one sync op works on: a connection id, where that id came from, and its streams' keys.

Built once at load time (from the declared catalog, settings and the Airbyte workspace state) and
closed over by the op, so the run needs neither the snapshot nor a new discovery: the keys a
run materializes are the keys the code location showed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec

REFRESH_COMMAND = "python -m airbyte_platform.ingestion.airbyte_server.refresh"


@dataclass(frozen=True)
class StreamTarget:
    name: str  # the Airbyte stream name
    key: dg.AssetKey
    sync_mode: str | None = None  # Airbyte's, e.g. full_refresh_overwrite (None when unknown)
    declared: StreamSpec | None = None
    location: str | None = None  # lake path or schema.table of a declared stream
    namespace: str | None = None  # the source namespace (schema), when Airbyte reports one


@dataclass(frozen=True)
class SyncTarget:
    connection_id: str
    name: str
    op_name: str
    # What to check when Airbyte does not know `connection_id` (a variable name, or the snapshot).
    id_source: str
    workspace_id: str | None
    streams: tuple[StreamTarget, ...]
    declared: ConnectionSpec | None = None
    destination_type: str | None = None

    @property
    def not_found_hint(self) -> str:
        if self.declared is not None:
            return f"the connection id {self.connection_id!r} in {self.id_source} ({self.name})"
        return (
            f"connection {self.connection_id!r} ({self.name!r}, from the Airbyte workspace state): it may have "
            f"been deleted; refresh with `{REFRESH_COMMAND}`"
        )

    @property
    def keys(self) -> list[dg.AssetKey]:
        return [stream.key for stream in self.streams]

    def streams_for(self, keys: Iterable[dg.AssetKey]) -> list[StreamTarget]:
        wanted = set(keys)
        return [stream for stream in self.streams if stream.key in wanted]
