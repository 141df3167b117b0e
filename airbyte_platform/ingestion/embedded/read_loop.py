"""The `read` command: stream a connector's messages into a destination session in bounded batches.

This is the hot path of a sync (one iteration per record), so it works on raw lines and plain
dicts and keeps per-record work to a dict lookup and a list append; typing and writing happen per
batch. Memory stays flat however many records arrive: at most one batch per stream is held.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airbyte_platform.ingestion.embedded import protocol
from airbyte_platform.ingestion.embedded.destination import DestinationSession, StateMessage, StreamPlan
from airbyte_platform.ingestion.embedded.process import (
    AirbyteConnector,
    ConnectorFailure,
    MalformedLine,
    forward_log,
)
from airbyte_platform.ingestion.embedded.records import StreamBuffer

# Records are typed in small batches: the parsed objects of a batch must still be in the CPU caches
# when its columns are built (measured per record: 2k rows ~8.3 us, 10k ~12.7 us, 50k ~15.8 us).
# Destinations regroup batches into large Parquet row groups / COPY statements.
BATCH_ROWS = 2_000
BATCH_BYTES = 4 << 20


class ReadFailure(ConnectorFailure):
    """The read failed; `stream` is the stream the connector was on (the last one seen)."""

    def __init__(self, problem: str, stderr_tail: str, stream: str | None):
        super().__init__(problem, stderr_tail)
        self.stream = stream


@dataclass
class ReadOutcome:
    records: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    # The last state message per stream: it covers every record read, since the read ended cleanly.
    states: dict[str, StateMessage] = field(default_factory=dict)
    undeclared_fields: dict[str, set[str]] = field(default_factory=dict)


class ReadLoop:
    """One `read`: messages in, batches to the destination session, counts and states out."""

    def __init__(
        self,
        connector: AirbyteConnector,
        plans: list[StreamPlan],
        session: DestinationSession,
        *,
        log: logging.Logger,
        progress_every: int,
        batch_rows: int | None = None,
        batch_bytes: int | None = None,
    ):
        self.connector = connector
        self.session = session
        self.log = log
        self.progress_every = max(1, progress_every)
        self.buffers = {
            plan.name: StreamBuffer(
                plan.name,
                plan.columns,
                max_rows=batch_rows or BATCH_ROWS,
                max_bytes=batch_bytes or BATCH_BYTES,
            )
            for plan in plans
        }
        self.states: dict[str, StateMessage] = {}
        self.last_stream: str | None = None
        self._unknown_kinds: list[str] = []

    def run(self, config_path: Path, catalog: Mapping[str, Any], state: list[dict[str, Any]]) -> ReadOutcome:
        args = [
            "read",
            "--config",
            str(config_path),
            "--catalog",
            str(self.connector.write_json("catalog.json", catalog)),
        ]
        if state:
            args += ["--state", str(self.connector.write_json("state.json", state))]
        with self.connector.process(*args) as process:
            try:
                with paused_cyclic_gc():
                    self._consume(process.lines())
            except (MalformedLine, _StopRead) as exc:
                process.kill()
                raise ReadFailure(str(exc), process.stderr_tail(), self.last_stream) from exc
            code = process.wait()
            if code != 0:
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                raise ReadFailure(f"the connector {how}", process.stderr_tail(), self.last_stream)
        for name, buffer in self.buffers.items():
            if len(buffer):
                self.session.write(name, buffer.drain())
        return ReadOutcome(
            records={name: buffer.records for name, buffer in self.buffers.items()},
            bytes={name: buffer.bytes_read for name, buffer in self.buffers.items()},
            states=self.states,
            undeclared_fields={
                name: b.undeclared_fields for name, b in self.buffers.items() if b.undeclared_fields
            },
        )

    def _consume(self, lines: Iterable[bytes]) -> None:
        # Locals for speed: this loop runs once per record.
        buffers, session, loads = self.buffers, self.session, protocol.loads
        progress_every = self.progress_every
        next_progress = progress_every
        total = 0
        started = time.monotonic()
        number = 0
        for line in lines:
            number += 1
            try:
                message = loads(line)
            except ValueError:
                if not line.strip():
                    continue  # tolerate blank lines
                message = _parse_leniently(line, number)
            try:
                kind = message["type"]
            except (KeyError, TypeError) as exc:
                raise MalformedLine(number, line, _describe(exc)) from exc
            if kind != "RECORD":
                self._other(message, kind, number, line)
                continue
            try:
                record = message["record"]
                stream = record["stream"]
                data = record["data"]
                emitted_at = record.get("emitted_at")
            except (KeyError, TypeError, AttributeError) as exc:
                raise MalformedLine(number, line, "RECORD without record.stream and record.data") from exc
            buffer = buffers.get(stream)
            if buffer is None:
                raise _StopRead(f"the connector sent a record of stream {stream!r}, which was not selected")
            if type(data) is not dict:
                raise MalformedLine(number, line, "RECORD data is not an object")
            self.last_stream = stream
            if buffer.add(data, emitted_at, len(line)):
                session.write(stream, buffer.drain())
            total += 1
            if total >= next_progress:
                next_progress += progress_every
                self._log_progress(total, started)

    def _other(self, message: dict[str, Any], kind: str, number: int, line: bytes) -> None:
        try:
            self._dispatch(message, kind)
        except (KeyError, TypeError, AttributeError) as exc:
            raise MalformedLine(number, line, f"{kind} message: {_describe(exc)}") from exc

    def _dispatch(self, message: dict[str, Any], kind: str) -> None:
        if kind == protocol.STATE:
            state = message["state"]
            for stream in protocol.state_streams(state, list(self.buffers)):
                if stream in self.buffers:
                    self.states[stream] = state
                    self.last_stream = stream
        elif kind == protocol.LOG:
            forward_log(self.log, self.connector.label, message)
        elif kind == protocol.TRACE:
            trace = message["trace"]
            if trace.get("type") == "ERROR":
                stream = (trace.get("error") or {}).get("stream_descriptor") or {}
                self.last_stream = stream.get("name") or self.last_stream
                raise _StopRead(f"the connector reported an error: {protocol.describe_message(message)}")
            self.log.debug(f"{self.connector.label} trace: {protocol.dumps(trace)[:300]}")
        elif kind == "CONTROL":
            self.log.warning(
                f"{self.connector.label}: ignoring a CONTROL message (connector config updates are not kept)"
            )
        elif kind not in (protocol.SPEC, protocol.CATALOG, protocol.CONNECTION_STATUS, *self._unknown_kinds):
            # A newer protocol version may add message types: well-formed, so skipped rather than fatal.
            self._unknown_kinds.append(kind)
            self.log.warning(f"{self.connector.label}: ignoring messages of unknown type {kind!r}")

    def _log_progress(self, total: int, started: float) -> None:
        elapsed = max(time.monotonic() - started, 1e-9)
        streams = ", ".join(f"{name} {b.records:,}" for name, b in self.buffers.items() if b.records)
        self.log.info(
            f"{self.connector.label}: {total:,} records read ({total / elapsed:,.0f} records/s; {streams})"
        )


class _CollectorPause:
    """Pause Python's cycle collector while records are buffered (shared by concurrent reads).

    A buffer holds up to a batch of freshly parsed dicts, and their allocations trigger collector
    passes that re-scan the survivors: measured, ~3 us of a ~10 us per-record budget. Parsed JSON
    holds no reference cycles, so reference counting alone frees every batch. The first read to
    start remembers whether the collector was on; the last one to end puts it back.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._readers == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._readers += 1
        try:
            yield
        finally:
            with self._lock:
                self._readers -= 1
                if self._readers == 0 and self._was_enabled:
                    gc.enable()


paused_cyclic_gc = _CollectorPause()


class _StopRead(Exception):
    """The connector said or did something that ends the sync (a TRACE error, an unselected stream)."""


def _parse_leniently(line: bytes, number: int) -> Any:
    try:
        return protocol.loads_lenient(line)
    except ValueError as exc:
        raise MalformedLine(number, line, "not JSON") from exc


def _describe(exc: KeyError | TypeError | AttributeError) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r} field"
    return "not shaped like an Airbyte message"
