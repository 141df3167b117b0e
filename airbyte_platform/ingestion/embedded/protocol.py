"""The Airbyte protocol as JSON: message types, the configured catalog, and connector state.

Messages are kept as plain dicts parsed with orjson: a sync of a million records parses a million
lines, and building the `airbyte-protocol-models` pydantic objects per line would cost several
times the connector's own emission time. The shapes follow https://docs.airbyte.com/understanding-airbyte/airbyte-protocol.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

# Parses bytes directly (no decode step) and is ~3x faster than the stdlib's C decoder. It is strict:
# callers retry a line it rejects with `loads_lenient` before calling the line malformed.
loads: Callable[[bytes | str], Any] = orjson.loads


def loads_lenient(line: bytes | str) -> Any:
    """The stdlib parser, which also takes what Python connectors may print: NaN, Infinity, lone surrogates."""
    return json.loads(line)


def dumps(value: Any) -> str:
    """Compact JSON text: how nested objects and arrays are stored (Parquet text, PostgreSQL jsonb)."""
    try:
        return orjson.dumps(value).decode()  # NaN and Infinity become null, valid for jsonb
    except TypeError:  # an integer beyond 64 bits, which the stdlib encodes exactly
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


RECORD = "RECORD"
STATE = "STATE"
LOG = "LOG"
TRACE = "TRACE"
SPEC = "SPEC"
CATALOG = "CATALOG"
CONNECTION_STATUS = "CONNECTION_STATUS"

# Airbyte's destination sync modes, chosen from the stream's sync mode and primary key.
OVERWRITE = "overwrite"
APPEND = "append"
APPEND_DEDUP = "append_dedup"


@dataclass(frozen=True)
class ConfiguredStream:
    """One stream of the configured catalog: what the connector reads and how the destination writes it."""

    airbyte_stream: Mapping[str, Any]  # the AirbyteStream from `discover`
    sync_mode: str  # incremental | full_refresh
    cursor_field: str | None
    primary_key: tuple[str, ...]
    # False for the lake: like Airbyte's S3 destination it only appends, and readers deduplicate.
    destination_deduplicates: bool = True

    @property
    def name(self) -> str:
        return str(self.airbyte_stream["name"])

    @property
    def namespace(self) -> str | None:
        return self.airbyte_stream.get("namespace")

    @property
    def destination_sync_mode(self) -> str:
        if self.sync_mode == "full_refresh":
            return OVERWRITE
        return APPEND_DEDUP if self.primary_key and self.destination_deduplicates else APPEND

    def as_protocol(self) -> dict[str, Any]:
        configured: dict[str, Any] = {
            "stream": dict(self.airbyte_stream),
            "sync_mode": self.sync_mode,
            "destination_sync_mode": self.destination_sync_mode,
            "primary_key": [[field] for field in self.primary_key],
        }
        if self.cursor_field:
            configured["cursor_field"] = [self.cursor_field]
        return configured


def configured_catalog(streams: Sequence[ConfiguredStream]) -> dict[str, Any]:
    return {"streams": [stream.as_protocol() for stream in streams]}


def stream_descriptor(name: str, namespace: str | None) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"name": name}
    if namespace:
        descriptor["namespace"] = namespace
    return descriptor


def input_state(
    states: Mapping[str, Mapping[str, Any]], committed_at: Mapping[str, str | None] | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The `--state` file from each stream's committed state message, and a note when they had to be merged.

    Per-stream (STREAM) states are handed as they are. A GLOBAL or LEGACY state covers every stream a
    sync read, so after a sync of only some streams the streams hold different ones; a connector
    must get one, never two. The merged one resumes from the OLDEST shared state (`committed_at`:
    when each stream's state was committed): a CDC source then misses nothing for the streams that
    were left behind, and re-reads changes for the others (deduplicated by primary key). Each
    stream keeps its own entry of `stream_states` (or of the legacy object)."""
    messages: list[dict[str, Any]] = []
    shared: dict[str, Mapping[str, Any]] = {}
    for stream, message in states.items():
        if message.get("type") in ("GLOBAL", "LEGACY") or "data" in message:
            shared[stream] = message
        elif message not in messages:
            messages.append(dict(message))
    distinct = [m for i, m in enumerate(shared.values()) if m not in list(shared.values())[:i]]
    if len(distinct) <= 1:
        return messages + [dict(m) for m in distinct], None
    times = committed_at or {}
    oldest = min(shared, key=lambda stream: (times.get(stream) or "", stream))
    merged = (
        _merged_global(shared, oldest)
        if shared[oldest].get("type") == "GLOBAL"
        else _merged_legacy(shared, oldest)
    )
    note = (
        f"streams {', '.join(sorted(shared))} hold different {shared[oldest].get('type', 'LEGACY')} states "
        f"(an earlier sync covered only some of them): resuming all from the oldest, committed with "
        f"stream {oldest} at {times.get(oldest) or 'an unknown time'}; records read again since then are "
        "deduplicated by primary key"
    )
    return [*messages, merged], note


def _merged_global(shared: Mapping[str, Mapping[str, Any]], oldest: str) -> dict[str, Any]:
    stream_states = []
    for stream, message in shared.items():
        if message.get("type") != "GLOBAL":
            continue
        for entry in message["global"].get("stream_states") or []:
            if entry.get("stream_descriptor", {}).get("name") == stream:
                stream_states.append(dict(entry))
    return {
        "type": "GLOBAL",
        "global": {
            "shared_state": shared[oldest]["global"].get("shared_state"),
            "stream_states": stream_states,
        },
    }


def _merged_legacy(shared: Mapping[str, Mapping[str, Any]], oldest: str) -> dict[str, Any]:
    """LEGACY data is one object, usually keyed by stream: the oldest, with each stream's own entry."""

    def data(message: Mapping[str, Any]) -> Any:
        return message.get("legacy", message.get("data"))

    merged = data(shared[oldest])
    if isinstance(merged, Mapping):
        merged = dict(merged)
        for stream, message in shared.items():
            own = data(message)
            if isinstance(own, Mapping) and stream in own:
                merged[stream] = own[stream]
    if shared[oldest].get("type") == "LEGACY":
        return {"type": "LEGACY", "legacy": merged}
    return {"data": merged}


def state_streams(message: Mapping[str, Any], stream_names: Sequence[str]) -> list[str]:
    """Which streams a STATE message covers: one for STREAM, all synced streams for GLOBAL/LEGACY."""
    if message.get("type") == "STREAM":
        return [str(message["stream"]["stream_descriptor"]["name"])]
    return list(stream_names)


def stream_state_value(message: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The connector's own state of a stream (`{"created": 1700000000}`), or the whole message if not per-stream."""
    if message is None:
        return None
    if message.get("type") == "STREAM":
        return message["stream"].get("stream_state")
    return message


def describe_message(message: Mapping[str, Any]) -> str:
    """A short human description of a TRACE error or failed CONNECTION_STATUS, for error messages."""
    if message.get("type") == TRACE:
        error = message.get("trace", {}).get("error", {})
        text = error.get("message") or "no message"
        internal = error.get("internal_message")
        return f"{text} ({internal})" if internal and internal != text else str(text)
    if message.get("type") == CONNECTION_STATUS:
        return str(message.get("connectionStatus", {}).get("message") or "no message")
    return dumps(message)[:500]
