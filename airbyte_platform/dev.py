"""`make dev`: the Dagster UI (`dagster dev`) with the webhook receiver beside it.

Both run until Ctrl-C (or SIGTERM); when either exits, the other is stopped too, so no orphan
receiver keeps the port and no UI runs without its receiver.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only this supervisor,
which then interrupts each child exactly once: a second SIGINT makes `dagster dev` cut its own
graceful shutdown short and can leave its webserver or daemon behind. A child that does not stop
in time is killed with its whole process group (dagster dev's webserver and daemon included).
On Linux the children also get SIGTERM if this process dies without cleaning up (SIGKILL).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import requests

from airbyte_platform.settings import PROJECT_ROOT, get_settings

STOP_TIMEOUT_SECONDS = 20.0
READY_TIMEOUT_SECONDS = 60.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Child:
    name: str
    command: Sequence[str]


class _Stop(Exception):
    """Raised in the main loop by SIGINT/SIGTERM/SIGHUP: stop everything."""


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the supervisor dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(child: Child, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(child.command),
        cwd=cwd,
        start_new_session=True,  # our Ctrl-C is not theirs: they get exactly one SIGINT, from us
        preexec_fn=_die_with_parent,  # runs between fork and exec; this process has no other threads
    )


def _stop_all(processes: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for name, process in processes.items():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {timeout:.0f} s: killing it", file=sys.stderr, flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its group: grandchildren too
            process.wait()


def supervise(
    children: Sequence[Child],
    *,
    cwd: Path = PROJECT_ROOT,
    ready: Callable[[], bool] | None = None,
    ready_message: str = "",
    stop_timeout: float = STOP_TIMEOUT_SECONDS,
) -> int:
    """Run `children` until one exits or we are told to stop; then stop the rest. Returns an exit code.

    `ready`: polled until true (or READY_TIMEOUT_SECONDS) before `ready_message` is printed.
    """

    def request_stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {
        sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    reason, code = "", 0
    try:
        for child in children:
            processes[child.name] = _start(child, cwd)
        announced = ready is None
        started = time.monotonic()
        while True:
            exited = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
            if exited:
                name, returncode = exited[0]
                reason, code = f"{name} exited with code {returncode}", returncode or 1
                break
            if not announced and ready is not None:
                if ready():
                    announced = True
                    if ready_message:
                        print(ready_message, flush=True)
                elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    print(f"not ready after {READY_TIMEOUT_SECONDS:.0f} s; still waiting", file=sys.stderr)
                    announced = True
            time.sleep(0.2)
    except _Stop as stop:
        reason = f"{stop} received"
    finally:
        # Ignore further signals while stopping: a second Ctrl-C must not abandon the children.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if processes:
            print(
                f"stopping ({reason or 'start failed'}): {', '.join(processes)}", file=sys.stderr, flush=True
            )
        _stop_all(processes, stop_timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _healthy(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return check


def main() -> int:
    settings = get_settings()
    webhooks = settings.webhooks
    assert webhooks is not None
    probe_host = "127.0.0.1" if webhooks.host in ("0.0.0.0", "::") else webhooks.host
    children = [
        Child("webhook receiver", [sys.executable, "-m", "airbyte_platform.events.receiver"]),
        Child(
            "dagster dev",
            [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")],
        ),
    ]
    return supervise(
        children,
        ready=_healthy(f"http://{probe_host}:{webhooks.port}/health"),
        ready_message=f"Webhook receiver on http://{webhooks.host}:{webhooks.port} (ready); "
        "Dagster UI on http://127.0.0.1:3000 once dagster dev reports it is serving",
    )


if __name__ == "__main__":
    sys.exit(main())
