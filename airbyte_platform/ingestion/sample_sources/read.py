"""The `read` command: the configured streams' records, in cursor order, with STATE checkpoints.

Records are rendered a chunk at a time and written to stdout in one call per chunk (between STATE
messages), which keeps the per-record cost to one string formatting: the point of a sample source
is to measure and exercise the platform, not to be its bottleneck.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from airbyte_platform.ingestion.sample_sources import messages
from airbyte_platform.ingestion.sample_sources.config import SampleConfig
from airbyte_platform.ingestion.sample_sources.streams import CursorError, SampleStream, Shape

CHUNK_RECORDS = 4_096


class ReadError(Exception):
    """A problem with the read's inputs: reported as a TRACE error naming what to fix."""

    def __init__(self, message: str, stream: SampleStream | None = None):
        super().__init__(message)
        self.stream = stream


class InjectedFailure(Exception):
    """`fail_after` was reached: the source stops like a crashing connector would."""


@dataclass(frozen=True)
class StreamRead:
    stream: SampleStream
    incremental: bool
    state_value: Any = None  # the input state's cursor value (incremental only)
    state_ticks: int | None = None


def plan_reads(shape: Shape, catalog: Any, state: Any) -> list[StreamRead]:
    """The streams to read, in the configured catalog's order, with their input state."""
    configured = catalog.get("streams") if isinstance(catalog, Mapping) else None
    if not isinstance(configured, list):
        raise ReadError("the configured catalog must be a JSON object with a `streams` list")
    states = _stream_states(state)
    reads: list[StreamRead] = []
    for position, entry in enumerate(configured):
        stream = _configured_stream(shape, entry, position)
        mode = entry.get("sync_mode", "full_refresh")
        if mode not in ("full_refresh", "incremental"):
            raise ReadError(
                f"stream {stream.name}: sync_mode must be full_refresh or incremental, not {mode!r}"
            )
        cursor_field = entry.get("cursor_field")
        if mode == "incremental" and cursor_field not in (None, [], [stream.cursor_field]):
            raise ReadError(
                f"stream {stream.name}: the cursor is source-defined ({stream.cursor_field!r}); "
                f"the catalog asks for {cursor_field!r}",
                stream,
            )
        value = (states.get(stream.name) or {}).get(stream.cursor_field)
        if mode != "incremental" or value is None:
            reads.append(StreamRead(stream, incremental=mode == "incremental"))
            continue
        try:
            ticks = stream.cursor.parse(value)
        except CursorError as exc:
            raise ReadError(
                f"stream {stream.name}: the state's {stream.cursor_field}: {exc}", stream
            ) from exc
        reads.append(StreamRead(stream, incremental=True, state_value=value, state_ticks=ticks))
    return reads


def _configured_stream(shape: Shape, entry: Any, position: int) -> SampleStream:
    described = entry.get("stream") if isinstance(entry, Mapping) else None
    name = described.get("name") if isinstance(described, Mapping) else None
    if not isinstance(name, str):
        raise ReadError(f"configured catalog stream #{position + 1} has no stream.name")
    stream = shape.stream(name)
    if stream is None:
        offered = ", ".join(s.name for s in shape.streams)
        raise ReadError(f"the {shape.name} sample source has no stream {name!r} (it offers {offered})")
    namespace = described.get("namespace")
    if namespace not in (None, stream.namespace):
        raise ReadError(f"stream {name}: namespace {namespace!r} is not {stream.namespace!r}", stream)
    return stream


def _stream_states(state: Any) -> dict[str, Mapping[str, Any]]:
    """stream name -> stream_state, from per-stream STATE messages (a list) or a legacy `{stream: state}`."""
    if state is None:
        return {}
    if isinstance(state, Mapping):  # legacy state: one object keyed by stream name
        return {str(name): value for name, value in state.items() if isinstance(value, Mapping)}
    if not isinstance(state, list):
        raise ReadError("the state must be a list of STATE messages")
    found: dict[str, Mapping[str, Any]] = {}
    for message in state:
        inner = message.get("state", message) if isinstance(message, Mapping) else None
        if not isinstance(inner, Mapping) or inner.get("type") != "STREAM":
            continue  # GLOBAL/LEGACY states are not produced by these sources
        stream = inner.get("stream") or {}
        name = (stream.get("stream_descriptor") or {}).get("name")
        stream_state = stream.get("stream_state")
        if isinstance(name, str) and isinstance(stream_state, Mapping):
            found[name] = stream_state
    return found


class RecordEmitter:
    """Writes the planned streams to `out`; raises InjectedFailure once `fail_after` records are out."""

    def __init__(self, out: BinaryIO, config: SampleConfig):
        self.out = out
        self.config = config
        self.emitted = 0

    def run(self, reads: list[StreamRead]) -> None:
        for read in reads:
            self._stream(read)
        self.out.flush()

    def _stream(self, read: StreamRead) -> None:
        stream, seed, out = read.stream, self.config.seed, self.out
        total = stream.count(self.config.records)
        start = 0 if read.state_ticks is None else stream.first_after(seed, read.state_ticks, total)
        out.write(messages.stream_status(stream, "STARTED"))
        out.write(messages.log(f"Syncing stream {stream.name}: records {start:,} to {total:,}"))
        state_every = self.config.state_every if read.incremental else total + 1
        since_state = 0
        last_value = read.state_value
        position = start
        if position < total:
            out.write(messages.stream_status(stream, "RUNNING"))
        while position < total:
            stop = min(position + CHUNK_RECORDS, total)
            lines, ticks = stream.render(seed, position, stop)
            offset = 0
            while offset < len(lines):
                take = min(len(lines) - offset, state_every - since_state, self._budget())
                out.write("".join(lines[offset : offset + take]).encode())
                offset += take
                since_state += take
                self.emitted += take
                if self._budget() == 0:
                    out.flush()
                    raise InjectedFailure(f"fail_after={self.config.fail_after} records reached")
                if since_state == state_every:
                    last_value = stream.cursor.to_json(ticks[offset - 1 : offset])[0]
                    out.write(messages.state(stream, last_value, since_state))
                    since_state = 0
            position = stop
        if read.incremental and (since_state or last_value is None) and position > start:
            last_value = stream.cursor_value(seed, position - 1)
            out.write(messages.state(stream, last_value, since_state))
        elif read.incremental and position == start and last_value is not None:
            out.write(messages.state(stream, last_value, 0))  # nothing new: the state stands
        out.write(messages.log(f"Read {total - start:,} records from {stream.name}"))
        out.write(messages.stream_status(stream, "COMPLETE"))

    def _budget(self) -> int:
        if self.config.fail_after is None:
            return 1 << 62
        return max(0, self.config.fail_after - self.emitted)
