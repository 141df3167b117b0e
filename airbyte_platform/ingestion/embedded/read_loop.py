"""The `read` command: stream a connector's messages into a destination session in bounded batches.

This is the hot path of a sync, and it shares the machine with the connector: the connector
emits on one core, and everything here must fit in what is left. stdout arrives in blocks of whole
lines (see `ConnectorProcess.blocks`); blocks of a few MB are typed in bulk by BULK_WORKERS
threads (`bulk.py`: C++ without the GIL, instead of a Python object per record), this thread
applies them in order (other messages, counts, progress), and a writer thread hands the batches
to the destination, so reading, typing and Parquet encoding overlap. A block the bulk path
declines (a malformed line, a value that does not fit its column, an undeclared field, ...) and a
small block take the per-record path, which works on raw lines and plain dicts and keeps
per-record work to a dict lookup and a list append; typing and writing happen per batch. Both
paths give the same batches and the same errors. Memory stays flat however many records arrive: a
few blocks and batches are in flight, and at most one batch per stream is buffered.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from airbyte_platform.gc_pause import paused_cyclic_gc
from airbyte_platform.ingestion.embedded import protocol
from airbyte_platform.ingestion.embedded.bulk import MIN_BULK_BYTES, BulkBlock, BulkParser
from airbyte_platform.ingestion.embedded.destination import DestinationSession, StateMessage, StreamPlan
from airbyte_platform.ingestion.embedded.keys import KeylessRecords, flag_keyless
from airbyte_platform.ingestion.embedded.process import (
    AirbyteConnector,
    Block,
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
# Blocks handed to the bulk workers and not yet applied: bounds memory (with BLOCK_BUFFERS).
BULK_WORKERS = 2  # the connector and our typing share the machine's cores: use what it leaves
BLOCKS_IN_FLIGHT = 3
WRITES_IN_FLIGHT = 4  # batches waiting for the writer thread


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
    keyless: dict[str, KeylessRecords] = field(default_factory=dict)  # deduplicated streams only


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
        bulk: bool = True,
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
        self._bulk = BulkParser(plans) if bulk else None
        self._total = 0  # records read, for progress logs
        self._next_progress = self.progress_every
        self._started = 0.0  # when `read` started
        self._writer = _BackgroundWriter(
            session,
            connector.label,
            {plan.name: plan.configured.primary_key for plan in plans if plan.deduplicates},
        )

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
        self._started = time.monotonic()
        try:
            with self.connector.process(*args) as process:
                try:
                    with paused_cyclic_gc():
                        self._consume(process.blocks())
                except (MalformedLine, _StopRead) as exc:
                    process.kill()
                    raise ReadFailure(str(exc), process.stderr_tail(), self.last_stream) from exc
                finally:
                    if self._bulk is not None:
                        self._bulk.close()
                code = process.wait()
                if code != 0:
                    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    raise ReadFailure(f"the connector {how}", process.stderr_tail(), self.last_stream)
            for name, buffer in self.buffers.items():
                if len(buffer):
                    self._writer.write(name, buffer.drain())
            self._writer.finish()
        finally:
            self._writer.close()
        return ReadOutcome(
            records={name: buffer.records for name, buffer in self.buffers.items()},
            bytes={name: buffer.bytes_read for name, buffer in self.buffers.items()},
            states=self.states,
            undeclared_fields={
                name: b.undeclared_fields for name, b in self.buffers.items() if b.undeclared_fields
            },
            keyless=self._writer.keyless,
        )

    def _consume(self, blocks: Iterable[Block]) -> None:
        """Blocks in order; big ones are typed by the workers while earlier ones are applied here."""
        bulk = self._bulk if self._bulk is not None and self._bulk.available else None
        in_flight: deque[tuple[Block, Future[BulkBlock | None] | None]] = deque()
        number = 0  # lines before the next block to finish
        with ThreadPoolExecutor(BULK_WORKERS, thread_name_prefix=f"bulk {self.connector.label}") as worker:
            if bulk is not None:
                # While the connector starts (a Python connector imports for ~0.5 s before its first
                # record), each worker opens its DuckDB and runs a first query: ~0.1 s of set-up each
                # that would otherwise delay the first blocks.
                ready = threading.Barrier(BULK_WORKERS)
                for _ in range(BULK_WORKERS):
                    worker.submit(_warm_up, bulk, ready)
            try:
                for block in blocks:
                    typed = None
                    if bulk is not None and block.nbytes >= MIN_BULK_BYTES:
                        typed = worker.submit(self._parse_in_bulk, bulk, block.lines)
                    in_flight.append((block, typed))
                    while in_flight and (
                        len(in_flight) > BLOCKS_IN_FLIGHT or in_flight[0][1] is None or in_flight[0][1].done()
                    ):
                        number = self._finish(*in_flight.popleft(), number)
                while in_flight:
                    number = self._finish(*in_flight.popleft(), number)
            finally:
                for _, typed in in_flight:
                    if typed is not None:
                        typed.cancel()

    def _parse_in_bulk(self, bulk: BulkParser, block: memoryview) -> BulkBlock | None:
        try:
            return bulk.parse(block)
        except Exception as exc:  # a bug there must not fail a sync the per-record path can do
            self.log.warning(
                f"{self.connector.label}: bulk typing failed, using the per-record path: {exc!r}"
            )
            return None

    def _finish(self, block: Block, typed: Future[BulkBlock | None] | None, number: int) -> int:
        """Handle one block (the next in order); returns the number of lines up to its end."""
        parsed = typed.result() if typed is not None else None
        if parsed is None:
            lines = bytes(block.lines).split(b"\n")
            block.release()
            lines.pop()  # empty: a block ends with a newline
            self._consume_lines(lines, number)
            return number + len(lines)
        block.release()  # the typed block holds copies of what it needs
        self._apply(parsed, number)
        return number + parsed.line_count

    def _apply(self, parsed: BulkBlock, number: int) -> None:
        """A block typed in bulk: its other messages in order (each knowing the stream of the record
        before it, as errors name it), then its batches."""
        streams = parsed.line_streams
        records_at = np.flatnonzero(streams >= 0)
        previous = -1
        for line, position in zip(parsed.others, parsed.other_positions.tolist(), strict=True):
            before = int(np.searchsorted(records_at, position)) - 1
            if before >= 0 and records_at[before] > previous:
                self.last_stream = parsed.streams[streams[records_at[before]]]
            previous = position
            self._consume_lines([line], number + position)
        if len(records_at) and records_at[-1] > previous:
            self.last_stream = parsed.streams[streams[records_at[-1]]]
        for stream, batch in parsed.batches.items():
            buffer = self.buffers[stream]
            if len(buffer):  # records of the per-record path first: emission order is kept
                self._writer.write(stream, buffer.drain())
            buffer.count_typed(batch.num_rows, parsed.record_bytes[stream])
            self._writer.write(stream, batch)
            self._count(batch.num_rows)

    def _count(self, records: int) -> None:
        self._total += records
        if self._total >= self._next_progress:
            self._next_progress = (self._total // self.progress_every + 1) * self.progress_every
            self._log_progress(self._total, self._started)

    def _consume_lines(self, lines: Iterable[bytes], number: int) -> None:
        """The per-record path; `number` is the count of lines before `lines`."""
        # Locals for speed: this loop runs once per record.
        buffers, writer, loads = self.buffers, self._writer, protocol.loads
        progress_every = self.progress_every
        next_progress = self._next_progress
        total = self._total
        try:
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
                    raise _StopRead(
                        f"the connector sent a record of stream {stream!r}, which was not selected"
                    )
                if type(data) is not dict:
                    raise MalformedLine(number, line, "RECORD data is not an object")
                self.last_stream = stream
                if buffer.add(data, emitted_at, len(line)):
                    writer.write(stream, buffer.drain())
                total += 1
                if total >= next_progress:
                    next_progress += progress_every
                    self._log_progress(total, self._started)
        finally:
            self._total, self._next_progress = total, next_progress

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


def _warm_up(bulk: BulkParser, ready: threading.Barrier) -> None:
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait(timeout=1.0)  # one warm-up per worker thread
    with contextlib.suppress(Exception):  # only an optimization: a real failure shows on a block
        bulk.warm_up()


class _BackgroundWriter:
    """Hands batches to the destination session from one thread, in order: Parquet encoding (or a
    COPY) overlaps with reading and typing. At most WRITES_IN_FLIGHT batches wait; a failure is
    raised by the next `write` or by `finish`, as the destination raised it."""

    def __init__(self, session: DestinationSession, label: str, primary_keys: Mapping[str, tuple[str, ...]]):
        self.session = session
        # Deduplicated streams: rows without a usable key are flagged here, where both parse paths meet.
        self.primary_keys = dict(primary_keys)
        self.keyless = {stream: KeylessRecords() for stream in primary_keys}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"write {label}")
        self._slots = threading.Semaphore(WRITES_IN_FLIGHT)
        self._failure: BaseException | None = None

    def write(self, stream: str, batch: pa.RecordBatch) -> None:
        self._raise_failure()
        self._slots.acquire()
        self._pool.submit(self._write, stream, batch)

    def _write(self, stream: str, batch: pa.RecordBatch) -> None:
        try:
            if self._failure is None:
                key = self.primary_keys.get(stream)
                if key:
                    batch = flag_keyless(batch, key, self.keyless[stream])
                self.session.write(stream, batch)
        except BaseException as exc:  # re-raised in the reading thread
            self._failure = exc
        finally:
            self._slots.release()

    def finish(self) -> None:
        """Wait until every batch is written."""
        self._pool.shutdown(wait=True)
        self._raise_failure()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


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
