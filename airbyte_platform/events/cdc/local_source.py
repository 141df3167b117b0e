"""The local stand-in of the application PostgreSQL: a pgserver with wal_level=logical, the
connection's tables, a publication, a pgoutput slot and the heartbeat table.

Nothing consumes the slot locally (the local sync of app_postgres_cdc reads a sample source), so
lag only moves when you make it move:

    python -m airbyte_platform.events.cdc.local_source status
    python -m airbyte_platform.events.cdc.local_source write 5000   # lag goes up
    python -m airbyte_platform.events.cdc.local_source consume      # a consumer catches up
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import filelock
import psycopg
from pgserver.postgres_server import pg_ctl
from pydantic import Field

from airbyte_platform.events.cdc.heartbeat import ensure_heartbeat_table
from airbyte_platform.events.cdc.resource import CdcSourceResource
from airbyte_platform.events.cdc.slot import read_slot
from airbyte_platform.local_services.postgres import local_postgres, local_postgres_uri

DATABASE = "app"
PUBLICATION = "airbyte_publication"
TABLES = {
    "users": "id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now()",
    "orders": "id BIGSERIAL PRIMARY KEY, user_id BIGINT, total NUMERIC(12, 2), updated_at TIMESTAMPTZ NOT NULL DEFAULT now()",
    "order_items": "id BIGSERIAL PRIMARY KEY, order_id BIGINT, sku TEXT, updated_at TIMESTAMPTZ NOT NULL DEFAULT now()",
}


def enable_logical_wal(pgdata: Path) -> None:
    """wal_level only changes on restart: set it and restart once (about 0.4 s)."""
    server = local_postgres(pgdata)
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        if connection.execute("SHOW wal_level").fetchone()[0] == "logical":  # type: ignore[index]
            return
        connection.execute("ALTER SYSTEM SET wal_level = logical")
    # pgserver has no restart; its pg_ctl wrapper runs as the server's system user (root cannot).
    pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=30)


def ensure_local_cdc_source(pgdata: Path, slot_name: str) -> str:
    """Start (or reuse) the local source and return its URI; safe to call from several processes."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(pgdata.parent / f".{pgdata.name}.setup.lock"), timeout=120):
        enable_logical_wal(pgdata)
        uri = local_postgres_uri(pgdata, DATABASE)
        with psycopg.connect(uri, autocommit=True) as connection:
            for table, columns in TABLES.items():
                connection.execute(f"CREATE TABLE IF NOT EXISTS public.{table} ({columns})")
            ensure_heartbeat_table(connection)
            if not connection.execute(
                "SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,)
            ).fetchone():
                connection.execute(f"CREATE PUBLICATION {PUBLICATION} FOR ALL TABLES")
            if not connection.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot_name,)
            ).fetchone():
                connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot_name,))
    return uri


def write_rows(connection: psycopg.Connection[Any], count: int) -> None:
    connection.execute(
        "INSERT INTO public.users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, %s) g",
        (count,),
    )


def consume(connection: psycopg.Connection[Any], slot_name: str) -> int:
    """Read every pending change through pgoutput, as a CDC consumer does; return how many messages."""
    row = connection.execute(
        "SELECT count(*) FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL, "
        "'proto_version', '1', 'publication_names', %s)",
        (slot_name, PUBLICATION),
    ).fetchone()
    return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> int:
    from airbyte_platform.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m airbyte_platform.events.cdc.local_source")
    parser.add_argument("action", choices=["status", "write", "consume"])
    parser.add_argument("rows", nargs="?", type=int, default=1000, help="rows to write (write)")
    args = parser.parse_args(argv)
    settings = get_settings()
    assert settings.cdc is not None
    slot_name = settings.cdc.slot_name
    uri = ensure_local_cdc_source(settings.home / "cdc_source_postgres", slot_name)
    with psycopg.connect(uri, autocommit=True) as connection:
        if args.action == "write":
            write_rows(connection, args.rows)
        elif args.action == "consume":
            print(f"consumed {consume(connection, slot_name)} pgoutput messages")
        reading = read_slot(connection, slot_name)
    slot = reading.slot
    behind = "no slot" if slot is None else f"{slot.bytes_behind} bytes behind, active={slot.active}"
    print(f"slot {slot_name!r} in database {reading.database!r}: {behind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


class LocalCdcSourceResource(CdcSourceResource):
    """Local mode: without a DSN, a stand-in PostgreSQL with a logical slot, started on first use."""

    local_pgdata: str = Field(description="Data directory of the local stand-in, used when dsn is unset.")

    def uri(self) -> str:
        if self.dsn:
            return self.dsn
        return ensure_local_cdc_source(Path(self.local_pgdata), self.slot_name)
