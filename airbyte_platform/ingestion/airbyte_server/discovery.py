"""Fetch the workspace state (a `WorkspaceSnapshot`) with paged listings, and give every connection and stream a key part.

HTTP calls: 1 (workspace check; +1 page per 100 workspaces when AIRBYTE_WORKSPACE_ID is unset)
+ ceil(connections/100) + ceil(destinations/100). The public API's `GET /connections` already
carries each connection's streams, so dagster-airbyte's per-connection `connections/get` and
`destinations/{id}` calls (2N) are not needed.

Key parts are valid (`[a-z0-9_]`), unique and independent of listing order:
- a connection keeps the part it had in the previous snapshot (renames do not move assets);
- new connections get `unique_clean_names` of their names; a name shared by several connections,
  or whose part is taken (by another connection or a declared connection's name), gets a suffix
  from its connection id, which never changes;
- stream parts are unique within their connection; a stream listed twice is kept once. A stream
  is (namespace, name): one name in two namespaces (`public.users`, `sales.users`) is two streams,
  whose parts carry the namespace (`public_users`, `sales_users`); a name in one namespace only
  keeps its bare part, so existing keys do not move.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airbyte_platform.core.naming import unique_clean_names
from airbyte_platform.ingestion.airbyte_server.client import ResilientAirbyteClient
from airbyte_platform.ingestion.airbyte_server.snapshot import (
    DiscoveredConnection,
    DiscoveredDestination,
    DiscoveredStream,
    WorkspaceSnapshot,
)

SKIPPED_STATUSES = frozenset({"deprecated"})  # deleted connections


def fetch_snapshot(
    client: ResilientAirbyteClient,
    *,
    previous: WorkspaceSnapshot | None = None,
    reserved_parts: Iterable[str] = (),
) -> WorkspaceSnapshot:
    calls_before = client.http_calls
    workspace_id = client.resolve_workspace_id()
    client.validate_workspace(workspace_id)
    raw_connections = client.list_connections(workspace_id)
    raw_destinations = client.list_destinations(workspace_id)
    pins = previous.key_parts if previous is not None and previous.workspace_id == workspace_id else {}
    return build_snapshot(
        api_url=client.rest_api_base_url,
        workspace_id=workspace_id,
        raw_connections=raw_connections,
        raw_destinations=raw_destinations,
        pinned_parts=pins,
        reserved_parts=set(reserved_parts),
        http_calls=client.http_calls - calls_before,
    )


def build_snapshot(
    *,
    api_url: str,
    workspace_id: str,
    raw_connections: Sequence[Mapping[str, Any]],
    raw_destinations: Sequence[Mapping[str, Any]],
    pinned_parts: Mapping[str, str] | None = None,
    reserved_parts: set[str] | None = None,
    http_calls: int = 0,
) -> WorkspaceSnapshot:
    """A snapshot from public-API listing payloads (pure: tested without a server)."""
    live = [c for c in raw_connections if c.get("status") not in SKIPPED_STATUSES]
    parts = assign_connection_parts(
        [(str(c["connectionId"]), str(c.get("name") or c["connectionId"])) for c in live],
        pinned=pinned_parts or {},
        reserved=reserved_parts or set(),
    )
    connections = [
        DiscoveredConnection(
            connection_id=str(c["connectionId"]),
            name=str(c.get("name") or c["connectionId"]),
            key_part=parts[str(c["connectionId"])],
            destination_id=str(c.get("destinationId")),
            source_id=c.get("sourceId"),
            status=str(c.get("status", "active")),
            prefix=c.get("prefix") or None,
            streams=_streams(c),
        )
        for c in live
    ]
    destinations = [
        DiscoveredDestination(
            destination_id=str(d["destinationId"]),
            name=str(d.get("name", "")),
            destination_type=d.get("destinationType"),
            database=(d.get("configuration") or {}).get("database"),
            schema=(d.get("configuration") or {}).get("schema"),
        )
        for d in raw_destinations
    ]
    return WorkspaceSnapshot(
        api_url=api_url,
        workspace_id=workspace_id,
        fetched_at=time.time(),
        connections=tuple(sorted(connections, key=lambda c: c.key_part)),
        destinations=tuple(sorted(destinations, key=lambda d: d.destination_id)),
        http_calls=http_calls,
    )


def _streams(connection: Mapping[str, Any]) -> tuple[DiscoveredStream, ...]:
    configured = (connection.get("configurations") or {}).get("streams") or []
    first: dict[tuple[str | None, str], Mapping[str, Any]] = {}
    for stream in configured:
        first.setdefault((stream.get("namespace") or None, str(stream["name"])), stream)
    namespaces_of = Counter(name for _, name in first)
    # The text a key part is cleaned from: the name, or `namespace_name` when the name is shared.
    labels = {
        (namespace, name): f"{namespace}_{name}" if namespaces_of[name] > 1 and namespace else name
        for namespace, name in first
    }
    parts = unique_clean_names(sorted(set(labels.values())))
    return tuple(
        DiscoveredStream(
            name=name,
            key_part=parts[labels[(namespace, name)]],
            sync_mode=stream.get("syncMode"),
            cursor_field=tuple(stream.get("cursorField") or ()),
            primary_key=tuple(tuple(path) for path in stream.get("primaryKey") or ()),
            namespace=namespace,
        )
        for (namespace, name), stream in sorted(first.items(), key=lambda item: parts[labels[item[0]]])
    )


def assign_connection_parts(
    connections: Sequence[tuple[str, str]], *, pinned: Mapping[str, str], reserved: set[str]
) -> dict[str, str]:
    """Connection id -> key part, for (id, name) pairs."""
    ids = {connection_id for connection_id, _ in connections}
    result = {connection_id: part for connection_id, part in pinned.items() if connection_id in ids}
    used = set(result.values()) | reserved
    new = [(connection_id, name) for connection_id, name in connections if connection_id not in result]
    cleaned = unique_clean_names(name for _, name in new)
    shared = Counter(name for _, name in new)
    # Parts without a suffix first, each in a deterministic order, so who gets the plain part
    # does not depend on the order of the listing.
    for connection_id, name in sorted(new, key=lambda item: (shared[item[1]] > 1, cleaned[item[1]], item[0])):
        part = cleaned[name]
        if shared[name] > 1 or part in used:
            part = _suffixed(part, connection_id, used)
        used.add(part)
        result[connection_id] = part
    return result


def _suffixed(part: str, connection_id: str, used: set[str]) -> str:
    digits = re.sub(r"[^0-9a-z]", "", connection_id.lower()) or "x"
    for length in range(min(8, len(digits)), len(digits) + 1):
        candidate = f"{part}_{digits[:length]}"
        if candidate not in used:
            return candidate
    counter = 2
    while f"{part}_{digits}_{counter}" in used:
        counter += 1
    return f"{part}_{digits}_{counter}"
