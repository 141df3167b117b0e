"""What `make dev` checks before it starts anything: that no other `make dev` runs on the same platform
home, and that the ports it will listen on are free.

Why before: a second `make dev` used to start, fail on the receiver's port, and on its way out stop every
PostgreSQL under the home, which were the first one's storage, inbox and analytics database; the first
one then retried dead connections until stopped by hand.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = "make-dev.lock"
OWNER_NAME = "make-dev.pid"


class PreflightError(RuntimeError):
    """`make dev` cannot start: the message says why and what to do."""


@dataclass(frozen=True)
class Listener:
    """A port `make dev` listens on, and the variable that moves it."""

    name: str
    variable: str
    host: str
    port: int


@contextmanager
def only_dev_of_home(home: Path) -> Iterator[None]:
    """Held while `make dev` runs: a second one on the same home stops before it touches anything."""
    home.mkdir(parents=True, exist_ok=True)
    lock, owner = FileLock(str(home / LOCK_NAME)), home / OWNER_NAME
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pid = owner.read_text().strip() if owner.exists() else "unknown"
        raise PreflightError(
            f"make dev is already running on the platform home {home} (pid {pid}): use that one, stop it "
            "with Ctrl-C in its terminal, or give this one another home (AIRBYTE_PLATFORM_HOME=/other/folder "
            "and DAGSTER_HOME=/other/folder/dagster_home)."
        ) from None
    try:
        owner.write_text(f"{os.getpid()}\n")
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def check_ports_free(listeners: Sequence[Listener]) -> None:
    """Every port free, or one error naming each busy port and the variable to change."""
    busy = [listener for listener in listeners if not _free(listener.host, listener.port)]
    if busy:
        lines = "\n".join(
            f"  {b.name}: {b.host}:{b.port} is in use (set {b.variable} to a free port)" for b in busy
        )
        raise PreflightError(f"make dev cannot listen where it should:\n{lines}")


def _free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers bind (uvicorn, the webserver): a port left in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
