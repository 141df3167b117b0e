"""A real PostgreSQL 16 for local mode and tests, started from the pgserver wheel.

pgserver keeps one server per data directory and shares it between processes (it reference-counts
its users), so every Dagster run process calling `local_postgres_uri` reaches the same server.
Servers outlive the process that started them (other run processes use them), so whoever owns a
local home stops them when done: `make demo` the ones it started, `make dev` every one under its
home, the tests theirs (`stop_local_postgres_under`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pgserver

_lock = threading.Lock()
_servers: dict[Path, pgserver.PostgresServer] = {}
_started_here: set[Path] = set()
PID_FILE = "postmaster.pid"


def postmaster_pid(pgdata: Path) -> int | None:
    """The postmaster's pid if a server is running on `pgdata` (its pid file names a live process)."""
    try:
        pid = int((pgdata / PID_FILE).read_text().splitlines()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return None
    except PermissionError:  # alive, another user's
        pass
    return pid


def local_postgres(pgdata: Path) -> pgserver.PostgresServer:
    """Start (or attach to) the server whose data lives in `pgdata`."""
    pgdata = pgdata.resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            if postmaster_pid(pgdata) is None:
                _started_here.add(pgdata)
            # cleanup_mode=None: the server outlives this process, so data and connections of other
            # run processes are not cut off when one run ends.
            server = pgserver.get_server(pgdata, cleanup_mode=None)
            _servers[pgdata] = server
        return server


def local_postgres_uri(pgdata: Path, database: str = "postgres") -> str:
    """A libpq URI (Unix socket) for `database` on the local server, creating the database if needed."""
    server = local_postgres(pgdata)
    if database != "postgres":
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "1 row" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)


def stop_local_postgres(pgdata: Path, timeout: float = 15.0) -> bool:
    """Stop the server on `pgdata` (fast shutdown: SIGINT, then SIGQUIT); True if one was running."""
    pgdata = pgdata.resolve()
    with _lock:
        _servers.pop(pgdata, None)
        _started_here.discard(pgdata)
    pid = postmaster_pid(pgdata)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if postmaster_pid(pgdata) is None:
                return True
            time.sleep(0.05)
    return True


def stop_servers_started_here() -> list[Path]:
    """Stop the servers this process started (and no others: another process may still use those)."""
    with _lock:
        started = sorted(_started_here)
    return [pgdata for pgdata in started if stop_local_postgres(pgdata)]


def stop_local_postgres_under(root: Path, max_depth: int = 4) -> list[Path]:
    """Stop every server whose data directory is under `root` (a home, a test's temp folder)."""
    stopped: list[Path] = []
    if not root.is_dir():
        return stopped
    for depth in range(max_depth + 1):
        for pid_file in root.glob("/".join(["*"] * depth + [PID_FILE])):
            if stop_local_postgres(pid_file.parent):
                stopped.append(pid_file.parent)
    return stopped
