"""Run a connector command as a subprocess and read its Airbyte messages.

stdout carries one JSON message per line; stderr is drained by a thread (a connector blocked on a
full stderr pipe would otherwise hang the sync) and its tail kept for error messages, because a
connector that crashes before it can emit a TRACE message says why only there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airbyte_platform.ingestion.embedded import protocol

STDERR_TAIL_LINES = 30
STDOUT_BUFFER_BYTES = 1 << 20
PIPE_BYTES = 1 << 20  # Linux default is 64 KiB: a fast connector would block on it between our reads
READ_AHEAD_CHUNKS = 64  # at most 64 MiB of a connector's output waits in memory
SMALL_READ_BYTES = 256 << 10
SMALL_READ_PAUSE_SECONDS = 0.002
TERMINATE_GRACE_SECONDS = 5.0
ONE_SHOT_TIMEOUT_SECONDS = 600.0

LOG_LEVELS = {
    "FATAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
    "TRACE": logging.DEBUG,
}


class ConnectorFailure(RuntimeError):
    """The connector misbehaved; `problem` says how, `stderr_tail` what it last printed there."""

    def __init__(self, problem: str, stderr_tail: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.stderr_tail = stderr_tail


class MalformedLine(ValueError):
    def __init__(self, line_number: int, line: bytes, reason: str):
        excerpt = line[:200].decode("utf-8", "replace").rstrip()
        super().__init__(f"malformed line {line_number} on stdout ({reason}): {excerpt!r}")


def parse_message(line: bytes, line_number: int) -> dict[str, Any]:
    try:
        message = protocol.loads(line)
    except ValueError:
        try:
            message = protocol.loads_lenient(line)
        except ValueError as exc:
            raise MalformedLine(line_number, line, "not JSON") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise MalformedLine(line_number, line, "not an Airbyte message")
    return message


def forward_log(log: logging.Logger, prefix: str, message: Mapping[str, Any]) -> None:
    entry = message.get("log") or {}
    level = LOG_LEVELS.get(str(entry.get("level", "INFO")).upper(), logging.INFO)
    if log.isEnabledFor(level):
        log.log(level, f"{prefix}: {entry.get('message', '')}")


class ConnectorProcess:
    """One connector command run; iterate `stdout` for its raw message lines.

    Leaving the `with` block kills the connector if it is still running, so an error in the reader
    never leaves an orphan connector writing into a pipe nobody reads.
    """

    def __init__(self, argv: Sequence[str], *, cwd: Path, log: logging.Logger, label: str):
        self.argv = list(argv)
        self.cwd = cwd
        self.log = log
        self.label = label
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr_thread: threading.Thread | None = None
        self._reader_thread: threading.Thread | None = None

    def __enter__(self) -> ConnectorProcess:
        try:
            self._process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=STDOUT_BUFFER_BYTES,
            )
        except OSError as exc:
            raise ConnectorFailure(f"cannot start `{' '.join(self.argv)}`: {exc}") from exc
        self._stderr_thread = threading.Thread(
            target=self._drain_stderr, args=(self._process.stderr,), name=f"stderr {self.label}", daemon=True
        )
        self._stderr_thread.start()
        return self

    @property
    def stdout(self) -> IO[bytes]:
        assert self._process is not None and self._process.stdout is not None
        return self._process.stdout

    def lines(self) -> Iterator[bytes]:
        """stdout, line by line (without the newline), read ahead by a thread into a bounded buffer.

        Connectors write in bursts (a page of an API, a vectorized batch): with only the pipe between
        us, the connector blocks on the full pipe while we process, and we idle while it computes the
        next burst. Reading ahead (up to READ_AHEAD_CHUNKS x PIPE_BYTES) lets both work at once.
        """
        descriptor = self.stdout.fileno()
        _enlarge_pipe(descriptor)
        chunks: queue.Queue[bytes | OSError] = queue.Queue(maxsize=READ_AHEAD_CHUNKS)
        stop = threading.Event()
        self._reader_thread = threading.Thread(
            target=_read_ahead, args=(descriptor, chunks, stop), name=f"stdout {self.label}", daemon=True
        )
        self._reader_thread.start()
        unfinished: list[bytes] = []  # pieces of a line longer than one read; joined once it ends
        try:
            while True:
                chunk = chunks.get()
                if isinstance(chunk, OSError):
                    raise chunk
                if not chunk:
                    break
                if b"\n" in chunk:
                    lines = chunk.split(b"\n")
                    if unfinished:
                        unfinished.append(lines[0])
                        lines[0] = b"".join(unfinished)
                        unfinished = []
                    last = lines.pop()
                    if last:
                        unfinished.append(last)
                    yield from lines
                else:
                    unfinished.append(chunk)
            if unfinished:
                yield b"".join(unfinished)
        finally:
            stop.set()  # the reader must not wait on a full buffer nobody empties any more

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._stderr_tail.append(line)
                self.log.debug(f"{self.label} stderr: {line}")

    def stderr_tail(self) -> str:
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2.0)
        return "\n".join(self._stderr_tail)

    def wait(self) -> int:
        assert self._process is not None
        return self._process.wait()

    def kill(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
        if self._reader_thread is not None:
            self._reader_thread.join(timeout=2.0)  # the connector is gone: its stdout is at EOF
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()


def _read_ahead(descriptor: int, chunks: queue.Queue[bytes | OSError], stop: threading.Event) -> None:
    """Move stdout into `chunks` until EOF (an empty chunk) or `stop`.

    After a short read it pauses briefly so the connector can fill the (enlarged) pipe: otherwise
    every few-KB write by the connector wakes this thread (a context switch on each side, costly in
    VMs) and each read returns a handful of records.
    """
    while not stop.is_set():
        try:
            chunk: bytes | OSError = os.read(descriptor, PIPE_BYTES)
        except OSError as exc:
            chunk = exc
        while not stop.is_set():
            try:
                chunks.put(chunk, timeout=0.1)
                break
            except queue.Full:
                continue
        if not isinstance(chunk, bytes) or not chunk:
            return
        if len(chunk) < SMALL_READ_BYTES:
            time.sleep(SMALL_READ_PAUSE_SECONDS)


def _enlarge_pipe(descriptor: int) -> None:
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if set_pipe_size is None:
        return
    with contextlib.suppress(OSError):  # capped by /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(descriptor, set_pipe_size, PIPE_BYTES)


class AirbyteConnector:
    """The protocol commands of one connector; config, catalog and state go through files in `workdir`."""

    def __init__(self, argv: Sequence[str], *, workdir: Path, log: logging.Logger, label: str):
        self.argv = list(argv)
        self.workdir = workdir
        self.log = log
        self.label = label

    def write_json(self, name: str, document: Any) -> Path:
        """Write an input file (owner-only: a config may hold secrets) and return its path."""
        path = self.workdir / name
        path.touch(mode=0o600)
        path.write_text(json.dumps(document))
        return path

    def process(self, *args: str) -> ConnectorProcess:
        return ConnectorProcess([*self.argv, *args], cwd=self.workdir, log=self.log, label=self.label)

    def spec(self) -> dict[str, Any]:
        return self._one_shot(["spec"], protocol.SPEC)["spec"]

    def check(self, config_path: Path) -> None:
        status = self._one_shot(["check", "--config", str(config_path)], protocol.CONNECTION_STATUS)
        if status.get("connectionStatus", {}).get("status") != "SUCCEEDED":
            raise ConnectorFailure(f"check failed: {protocol.describe_message(status)}")

    def discover(self, config_path: Path) -> list[dict[str, Any]]:
        catalog = self._one_shot(["discover", "--config", str(config_path)], protocol.CATALOG)
        return list(catalog["catalog"]["streams"])

    def _one_shot(self, args: list[str], expected: str) -> dict[str, Any]:
        """Run a command that answers with one message of type `expected`, forwarding its logs."""
        answer: dict[str, Any] | None = None
        problem: str | None = None
        command = args[0]
        with self.process(*args) as process:
            timed_out = threading.Event()

            def expire() -> None:
                timed_out.set()
                process.kill()

            watchdog = threading.Timer(ONE_SHOT_TIMEOUT_SECONDS, expire)
            watchdog.daemon = True
            watchdog.start()
            try:
                for number, line in enumerate(process.stdout, start=1):
                    if not line.strip():
                        continue
                    message = parse_message(line, number)
                    kind = message["type"]
                    if kind == expected:
                        answer = message
                    elif kind == protocol.LOG:
                        forward_log(self.log, self.label, message)
                    elif kind == protocol.TRACE and message.get("trace", {}).get("type") == "ERROR":
                        problem = f"{command} reported an error: {protocol.describe_message(message)}"
                        break
            except MalformedLine as exc:
                problem = f"{command}: {exc}"
            finally:
                watchdog.cancel()
            if problem is None:
                code = process.wait()
                if timed_out.is_set():
                    problem = f"{command} did not finish within {ONE_SHOT_TIMEOUT_SECONDS:.0f} s"
                elif code != 0:
                    problem = f"{command} exited with code {code}"
                elif answer is None:
                    problem = f"{command} emitted no {expected} message"
            if problem is not None or answer is None:
                process.kill()  # before reading stderr: its tail is complete once the connector is gone
                raise ConnectorFailure(problem or f"{command} failed", process.stderr_tail())
            return answer
