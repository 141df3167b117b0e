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
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from airbyte_platform.gc_pause import paused_cyclic_gc
from airbyte_platform.ingestion.embedded import protocol
from airbyte_platform.ingestion.embedded.bulk import MIN_BULK_BYTES, BulkBlock, BulkParser
from airbyte_platform.ingestion.embedded.defaults import CHECKPOINT_SECONDS
from airbyte_platform.ingestion.embedded.destination import DestinationSession, StateMessage, StreamPlan
from airbyte_platform.ingestion.embedded.keys import KeylessRecords, flag_keyless
from airbyte_platform.ingestion.embedded.process import (
    INACTIVITY_TIMEOUT_SECONDS,
    AirbyteConnector,
    Block,
    ConnectorFailure,
    InactivityTimeout,
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
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        inactivity_timeout: float = INACTIVITY_TIMEOUT_SECONDS,
    ):
        self.connector = connector
        self.inactivity_timeout = inactivity_timeout
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
        self.records_at_state: dict[str, int] = {}  # a stream's records when its last STATE came
        self.statuses: dict[str, str] = {}  # the last STREAM_STATUS of each stream
        # Incremental streams commit at checkpoints: records committed so far per stream.
        self.checkpointed = {plan.name: 0 for plan in plans if plan.incremental and not plan.replaces}
        self.checkpoint_seconds = checkpoint_seconds
        self.clock = clock
        self._last_checkpoint = clock()
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
            with self.connector.process(*args, inactivity_timeout=self.inactivity_timeout) as process:
                try:
                    with paused_cyclic_gc():
                        self._consume(process.blocks(pauses=True))
                except (MalformedLine, _StopRead, InactivityTimeout) as exc:
                    process.kill()
                    raise ReadFailure(str(exc), process.stderr_tail(), self.last_stream) from exc
                finally:
                    if self._bulk is not None:
                        self._bulk.close()
                code = process.wait()
                if code != 0:
                    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    raise ReadFailure(f"the connector {how}", process.stderr_tail(), self.last_stream)
                unfinished = self._unfinished()
                if unfinished:
                    raise ReadFailure(unfinished, process.stderr_tail(), self.last_stream)
            for name, buffer in self.buffers.items():
                if len(buffer):
                    self._writer.write(name, buffer.drain())
            self._writer.finish()
        except ReadFailure as exc:
            exc.problem = exc.args[0] + self._committed_note()
            raise
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

    def _committed_note(self) -> str:
        """What earlier checkpoints of this failed read committed (kept: the next sync resumes there)."""
        try:
            self._writer.finish()  # checkpoints still queued are committed, or their failure raised
        except BaseException:  # the read's own failure is the one to report
            return ""
        done = {name: count for name, count in self._writer.committed.items() if count}
        if not done:
            return ""
        return "; committed at its last checkpoint and kept, the next sync resumes there: " + ", ".join(
            f"{count:,} records of stream {name}" for name, count in done.items()
        )

    def _consume(self, blocks: Iterable[Block | None]) -> None:
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
                    if block is None:  # the connector paused: apply what was typed meanwhile, so its
                        while in_flight:  # records and errors are not held until it writes again
                            number = self._finish(*in_flight.popleft(), number)
                        continue
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
        """A block typed in bulk, in emission order: before each of its other messages (a STATE may
        checkpoint what precedes it, and errors name the stream of the record before them), the
        records before it are handed over, as slices of the block's batches."""
        streams = parsed.line_streams
        positions = {
            name: np.flatnonzero(streams == index)
            for index, name in enumerate(parsed.streams)
            if name in parsed.batches
        }
        handed = dict.fromkeys(positions, 0)
        previous = [-1]  # the line of the previous other message: only records after it name a stream

        def hand_over(before: int) -> None:
            last, last_at = None, previous[0]
            for stream, at in positions.items():
                count = int(np.searchsorted(at, before))
                if count > handed[stream]:
                    buffer = self.buffers[stream]
                    if len(buffer):  # records of the per-record path first: emission order is kept
                        self._writer.write(stream, buffer.drain())
                    piece = parsed.batches[stream].slice(handed[stream], count - handed[stream])
                    buffer.count_typed(piece.num_rows, 0)
                    self._writer.write(stream, piece)
                    self._count(piece.num_rows)
                    handed[stream] = count
                if count and at[count - 1] > last_at:
                    last, last_at = stream, int(at[count - 1])
            if last is not None:
                self.last_stream = last

        for line, position in zip(parsed.others, parsed.other_positions.tolist(), strict=True):
            hand_over(position)
            previous[0] = position
            self._consume_lines([line], number + position)
        hand_over(parsed.line_count)
        for stream, size in parsed.record_bytes.items():
            self.buffers[stream].count_typed(0, size)

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
            covered = [s for s in protocol.state_streams(state, list(self.buffers)) if s in self.buffers]
            for stream in covered:
                self.states[stream] = state
                self.records_at_state[stream] = self.buffers[stream].records
                self.last_stream = stream
            self._maybe_checkpoint(state, covered)
        elif kind == protocol.LOG:
            forward_log(self.log, self.connector.label, message)
        elif kind == protocol.TRACE:
            trace = message["trace"]
            if trace.get("type") == "ERROR":
                stream = (trace.get("error") or {}).get("stream_descriptor") or {}
                self.last_stream = stream.get("name") or self.last_stream
                raise _StopRead(f"the connector reported an error: {protocol.describe_message(message)}")
            if trace.get("type") == "STREAM_STATUS":
                status = trace["stream_status"]
                self.statuses[str(status["stream_descriptor"]["name"])] = str(status.get("status"))
            self.log.debug(f"{self.connector.label} trace: {protocol.dumps(trace)[:300]}")
        elif kind == "CONTROL":
            self.log.warning(
                f"{self.connector.label}: ignoring a CONTROL message (connector config updates are not kept)"
            )
        elif kind not in (protocol.SPEC, protocol.CATALOG, protocol.CONNECTION_STATUS, *self._unknown_kinds):
            # A newer protocol version may add message types: well-formed, so skipped rather than fatal.
            self._unknown_kinds.append(kind)
            self.log.warning(f"{self.connector.label}: ignoring messages of unknown type {kind!r}")

    def _maybe_checkpoint(self, state: StateMessage, covered: list[str]) -> None:
        """Commit the covered incremental streams' data up to this STATE, with it, when a checkpoint
        is due: an interrupted sync then resumes from here instead of from the start."""
        streams = [name for name in covered if name in self.checkpointed]
        if not streams or self.clock() - self._last_checkpoint < self.checkpoint_seconds:
            return
        for name in streams:  # records of the per-record path before this STATE (the bulk path
            buffer = self.buffers[name]  # handed its own over already)
            if len(buffer):
                self._writer.write(name, buffer.drain())
            self.checkpointed[name] = buffer.records
        self._writer.checkpoint(dict.fromkeys(streams, state))
        self._last_checkpoint = self.clock()

    def _unfinished(self) -> str | None:
        """Why a read that exited 0 did not finish, or None: a stream whose statuses never said
        COMPLETE; without statuses, an incremental stream with records after its last STATE (a
        connector that checkpoints ends each stream with one)."""
        if self.statuses:
            left = {
                name: self.statuses.get(name)
                for name in self.buffers
                if self.statuses.get(name) != "COMPLETE"
            }
            if left:
                self.last_stream = next(iter(left))
                return (
                    "the connector exited 0 without finishing: "
                    + "; ".join(
                        f"stream {name} ended with status {status or 'none'}" for name, status in left.items()
                    )
                    + " (no COMPLETE stream status)"
                )
            return None
        for name, at_state in self.records_at_state.items():
            after = self.buffers[name].records - at_state
            if name in self.checkpointed and after > 0:
                self.last_stream = name
                return (
                    f"the connector exited 0 without finishing: {after:,} records of stream {name} came "
                    "after its last STATE and no final STATE covers them (it stopped early)"
                )
        return None

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
        self.written: dict[str, int] = defaultdict(int)  # rows handed over, per stream
        self.committed: dict[str, int] = {}  # rows committed by checkpoints, per stream
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"write {label}")
        self._slots = threading.Semaphore(WRITES_IN_FLIGHT)
        self._failure: BaseException | None = None

    def write(self, stream: str, batch: pa.RecordBatch) -> None:
        self._raise_failure()
        self.written[stream] += batch.num_rows
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

    def checkpoint(self, states: Mapping[str, StateMessage]) -> None:
        """Commit the streams' batches written so far with their states, after those batches."""
        self._raise_failure()
        self._slots.acquire()
        self._pool.submit(self._checkpoint, dict(states), {s: self.written[s] for s in states})

    def _checkpoint(self, states: dict[str, StateMessage], rows: dict[str, int]) -> None:
        try:
            if self._failure is None:
                self.session.checkpoint(states)
                self.committed.update(rows)
        except BaseException as exc:  # re-raised in the reading thread
            self._failure = exc
        finally:
            self._slots.release()

    def finish(self) -> None:
        """Wait until every batch is written and every checkpoint committed."""
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
