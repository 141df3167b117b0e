"""The heartbeat table: how many *seconds* behind a replication slot is.

Each heartbeat row records when it was written and the WAL insert position at that moment. Once
the slot's `confirmed_flush_lsn` passes a heartbeat's position, the consumer has everything
written before that heartbeat; so "seconds behind" is the age of the newest heartbeat it passed
(the same idea as Debezium's `heartbeat.action.query`).

Opt-in: the CDC sensor writes one row per evaluation only when the table exists. Create it with
`ensure_heartbeat_table` (the local source does) and add it to the Airbyte publication, so a quiet
database still shows progress. Old rows are pruned as new ones are written.
"""

from __future__ import annotations

from typing import Any

import psycopg

HEARTBEAT_TABLE = "public.airbyte_cdc_heartbeat"
KEEP = "1 day"

DDL = f"""
CREATE TABLE IF NOT EXISTS {HEARTBEAT_TABLE} (
    id BIGSERIAL PRIMARY KEY,
    written_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lsn PG_LSN NOT NULL DEFAULT pg_current_wal_insert_lsn()
)
"""


def ensure_heartbeat_table(connection: psycopg.Connection[Any]) -> None:
    connection.execute(DDL)


def write_heartbeat(connection: psycopg.Connection[Any]) -> bool:
    """Write one heartbeat if the table exists; return whether one was written."""
    with connection.transaction():
        if connection.execute("SELECT to_regclass(%s)", (HEARTBEAT_TABLE,)).fetchone()[0] is None:  # type: ignore[index]
            return False
        connection.execute(f"INSERT INTO {HEARTBEAT_TABLE} DEFAULT VALUES")
        # Keep a day of rows, and always the newest, so an idle consumer's age stays measurable.
        connection.execute(
            f"DELETE FROM {HEARTBEAT_TABLE} WHERE written_at < now() - interval '{KEEP}' "
            f"AND id < (SELECT max(id) FROM {HEARTBEAT_TABLE} WHERE written_at < now() - interval '{KEEP}')"
        )
    return True
