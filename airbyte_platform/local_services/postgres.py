"""A real PostgreSQL 16 for local mode and tests, started from the pgserver wheel.

pgserver keeps one server per data directory and shares it between processes (it reference-counts
its users), so every Dagster run process calling `local_postgres_uri` reaches the same server.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pgserver

_lock = threading.Lock()
_servers: dict[Path, pgserver.PostgresServer] = {}


def local_postgres(pgdata: Path) -> pgserver.PostgresServer:
    """Start (or attach to) the server whose data lives in `pgdata`."""
    pgdata = pgdata.resolve()
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
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
