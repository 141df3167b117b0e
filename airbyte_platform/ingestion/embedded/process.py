"""Run a connector command as a subprocess and read its Airbyte messages.

stdout carries one JSON message per line; stderr is drained by a thread (a connector blocked on a
full stderr pipe would otherwise hang the sync) and its tail kept for error messages, because a
connector that crashes before it can emit a TRACE message says why only there.

The connector never outlives the runner: it runs in its own process group (a Ctrl-C in a terminal
reaches the runner, which stops it; stopping signals the whole group, so a connector's own children
go too), with SIGKILL as its parent-death signal (`setpriv --pdeathsig`, util-linux: whatever ends
the runner, even SIGKILL, ends the connector; `preexec_fn` would be unsafe, since spec, check and
discover start from threads), and stopping it sends SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import logging
import os
import queue
import select
import shutil
import signal
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
BLOCK_BYTES = 8 << 20  # stdout is read into buffers of this size, reused: no allocation per block
BLOCK_BUFFERS = 6  # at most this many blocks (48 MiB) are read ahead or being handled
BLOCK_WAIT_SECONDS = 0.1  # how long a block that is not full waits for more output
PAUSE_SECONDS = 0.2  # no block for this long: the connector paused (see `blocks(pauses=True)`)
SMALL_READ_BYTES = 256 << 10
SMALL_READ_PAUSE_SECONDS = 0.002
TERMINATE_GRACE_SECONDS = 5.0
ONE_SHOT_TIMEOUT_SECONDS = 600.0
# Without a line on stdout for this long, a read is taken as hung (Airbyte's platform waits 3 hours
# between source messages by default). Per connection: connections.yaml local.inactivity_timeout_seconds.
INACTIVITY_TIMEOUT_SECONDS = 3 * 3600.0
_SETPRIV = shutil.which("setpriv")

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


class InactivityTimeout(ConnectorFailure):
    """The connector wrote nothing on stdout for `seconds`."""

    def __init__(self, seconds: float):
        super().__init__(
            f"the connector wrote nothing for {seconds:g} s and was stopped (inactivity timeout: "
            "connections.yaml local.inactivity_timeout_seconds)"
        )
        self.seconds = seconds


def guarded_argv(argv: Sequence[str]) -> list[str]:
    """`argv` run so that the connector gets SIGKILL when the runner dies (see module doc)."""
    if _SETPRIV is None:  # not Linux/util-linux: the process group and the stop path still apply
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]


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

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        log: logging.Logger,
        label: str,
        inactivity_timeout: float = INACTIVITY_TIMEOUT_SECONDS,
    ):
        self.argv = list(argv)
        self.cwd = cwd
        self.log = log
        self.label = label
        self.inactivity_timeout = inactivity_timeout
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr_thread: threading.Thread | None = None
        self._reader_thread: threading.Thread | None = None

    def __enter__(self) -> ConnectorProcess:
        try:
            self._process = subprocess.Popen(
                guarded_argv(self.argv),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=STDOUT_BUFFER_BYTES,
                process_group=0,  # its own group, led by the connector: stopped as a whole
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

    def blocks(self, *, pauses: bool = False) -> Iterator[Block | None]:
        """stdout in blocks of whole lines, read ahead by a thread; call `release()` on each when done.
        `pauses`: also yield None when no block came for PAUSE_SECONDS (the connector paused), so the
        caller can finish what it holds instead of waiting for the connector's next output.

        Connectors write in bursts (a page of an API, a vectorized batch): with only the pipe between
        us, the connector blocks on the full pipe while we process, and we idle while it computes the
        next burst. A thread reads ahead into BLOCK_BUFFERS reused buffers, so both work at once, and
        memory stays bounded (a connector that outpaces us waits on the pipe). A block is handed over
        when its buffer is full or no more output came for BLOCK_WAIT_SECONDS: the reader types
        records a block at a time, at a fixed cost per block, and a slow connector's lines are still
        handled within a fraction of a second. The buffers are reused rather than allocated per
        block: fresh memory costs a page fault per 4 KiB, which is expensive in VMs.
        """
        descriptor = self.stdout.fileno()
        _enlarge_pipe(descriptor)
        reader = _BlockReader(descriptor)
        self._reader_thread = threading.Thread(target=reader.run, name=f"stdout {self.label}", daemon=True)
        self._reader_thread.start()
        try:
            silent_since = time.monotonic()
            while True:
                silent = time.monotonic() - silent_since
                if silent >= self.inactivity_timeout:
                    raise InactivityTimeout(self.inactivity_timeout)
                wait = self.inactivity_timeout - silent
                try:
                    block = reader.ready.get(timeout=min(wait, PAUSE_SECONDS) if pauses else wait)
                except queue.Empty:
                    if pauses:
                        yield None
                    continue
                if isinstance(block, OSError):
                    raise block
                if block is None:
                    return
                yield block
                silent_since = time.monotonic()  # the time the caller spent on it is not silence
        finally:
            reader.stop.set()  # the reader must not wait for a buffer nobody releases any more

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

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """SIGTERM to the connector's process group, SIGKILL to it after TERMINATE_GRACE_SECONDS."""
        process = self._process
        if process is None or process.poll() is not None:
            return  # finished (a group id is only signalled while its leader is ours: never reused)
        self._signal_group(signal.SIGTERM)
        try:
            process.wait(timeout=TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.log.warning(
                f"{self.label}: the connector ignored SIGTERM for {TERMINATE_GRACE_SECONDS:g} s: SIGKILL"
            )
        self._signal_group(signal.SIGKILL)  # also what it started and left running
        process.wait()

    def _signal_group(self, number: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
            os.killpg(self._process.pid, number)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
        if self._reader_thread is not None:
            self._reader_thread.join(timeout=2.0)  # the connector is gone: its stdout is at EOF
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()


class Block:
    """Whole lines of stdout, each ending with a newline (one is added to an unterminated last line)."""

    def __init__(self, buffer: bytearray, size: int, free: queue.Queue[bytearray]):
        self._buffer = buffer
        self._free = free
        self.lines = memoryview(buffer)[:size]

    @property
    def nbytes(self) -> int:
        return self.lines.nbytes

    def release(self) -> None:
        """Hand the buffer back to the reader; `lines` must not be used any more."""
        self.lines.release()
        self._free.put(self._buffer)


class _BlockReader:
    """Reads stdout into reused buffers and queues them as Blocks; None marks the end."""

    def __init__(self, descriptor: int):
        self.descriptor = descriptor
        self.stop = threading.Event()
        self.free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(BLOCK_BUFFERS):
            self.free.put(bytearray(BLOCK_BYTES))
        self.ready: queue.Queue[Block | OSError | None] = queue.Queue()

    def run(self) -> None:
        stdout = io.FileIO(self.descriptor, closefd=False)  # readinto: straight into our buffer
        carry = b""  # the start of a line that the next block continues
        ended = False
        try:
            while not ended:
                buffer = self._buffer()
                if buffer is None:
                    return
                if len(carry) >= len(buffer) // 2:  # a very long line: room to read more of it
                    self.free.put(buffer)
                    buffer = bytearray(2 * len(carry))
                buffer[: len(carry)] = carry
                filled, ended = self._fill(stdout, buffer, len(carry))
                cut = buffer.rfind(b"\n", 0, filled) + 1
                if ended and cut < filled:
                    if filled == len(buffer):
                        buffer.append(0)
                    buffer[filled] = 10  # end the unterminated last line
                    filled += 1
                    cut = filled
                carry = bytes(buffer[cut:filled])
                if cut:
                    self.ready.put(Block(buffer, cut, self.free))
                else:
                    self.free.put(buffer)
        except OSError as exc:
            self.ready.put(exc)
        finally:
            self.ready.put(None)

    def _buffer(self) -> bytearray | None:
        while not self.stop.is_set():
            try:
                return self.free.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    def _fill(self, stdout: io.FileIO, buffer: bytearray, filled: int) -> tuple[int, bool]:
        """Read until the buffer is full, stdout ends, or no output came for BLOCK_WAIT_SECONDS;
        returns the bytes in the buffer and whether stdout ended."""
        view = memoryview(buffer)
        deadline: float | None = None
        try:
            while filled < len(buffer) and not self.stop.is_set():
                if deadline is not None:
                    waiting = deadline - time.monotonic()
                    if waiting <= 0 or not select.select([self.descriptor], [], [], waiting)[0]:
                        return filled, False
                count = stdout.readinto(view[filled:])
                if not count:
                    return filled, True
                filled += count
                if filled > 0 and deadline is None:
                    deadline = time.monotonic() + BLOCK_WAIT_SECONDS
                if count < SMALL_READ_BYTES:
                    # Let the connector fill the pipe: otherwise every few-KB write wakes this thread
                    # (a context switch on each side, costly in VMs) and each read returns little.
                    time.sleep(SMALL_READ_PAUSE_SECONDS)
            return filled, self.stop.is_set()
        finally:
            view.release()


def _enlarge_pipe(descriptor: int) -> None:
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if set_pipe_size is None:
        return
    with contextlib.suppress(OSError):  # capped by /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(descriptor, set_pipe_size, PIPE_BYTES)


class AirbyteConnector:
    """The protocol commands of one connector; config, catalog and state go through files in `workdir`.

    `spec`, `check` and `discover` may run at the same time from several threads (see the runner);
    `cancel` stops those still running once one answer has decided the sync.
    """

    def __init__(self, argv: Sequence[str], *, workdir: Path, log: logging.Logger, label: str):
        self.argv = list(argv)
        self.workdir = workdir
        self.log = log
        self.label = label
        self._lock = threading.Lock()
        self._running: set[ConnectorProcess] = set()
        self._cancelled = False

    def cancel(self) -> None:
        """Kill the running one-shot commands; any started later fails at once."""
        with self._lock:
            self._cancelled = True
            running = list(self._running)
        for process in running:
            process.kill()

    def write_json(self, name: str, document: Any) -> Path:
        """Write an input file (owner-only: a config may hold secrets) and return its path."""
        path = self.workdir / name
        path.touch(mode=0o600)
        path.write_text(json.dumps(document))
        return path

    def process(self, *args: str, inactivity_timeout: float = INACTIVITY_TIMEOUT_SECONDS) -> ConnectorProcess:
        return ConnectorProcess(
            [*self.argv, *args],
            cwd=self.workdir,
            log=self.log,
            label=self.label,
            inactivity_timeout=inactivity_timeout,
        )

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
        with self.process(*args) as process, self._tracked(process, command):
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

    @contextlib.contextmanager
    def _tracked(self, process: ConnectorProcess, command: str) -> Iterator[None]:
        with self._lock:
            self._running.add(process)
            cancelled = self._cancelled
        try:
            if cancelled:
                process.kill()
                raise ConnectorFailure(f"{command} was cancelled")
            yield
        finally:
            with self._lock:
                self._running.discard(process)
