"""One reading of the CDC source: its replication slot, wal_level and heartbeat evidence.

`pg_replication_slots` says how many bytes of WAL the consumer has not confirmed
(`pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)`) but carries no time, so time lag
comes from the heartbeat table (see `heartbeat.py`) or, failing that, the last successful sync.
Everything is read in one transaction so the figures agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from airbyte_platform.events.cdc.heartbeat import HEARTBEAT_TABLE

SLOT_QUERY = """
SELECT slot_type, plugin, active, wal_status, safe_wal_size,
       pg_current_wal_lsn()::text, confirmed_flush_lsn::text,
       pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
FROM pg_replication_slots WHERE slot_name = %s
"""
# Newest heartbeat the consumer has passed, and oldest it has not: ages in the database's own
# clock, so a skew between the Dagster host and the database does not distort the lag.
HEARTBEAT_QUERY = f"""
SELECT extract(epoch FROM now() - max(written_at) FILTER (WHERE lsn <= %(confirmed)s::pg_lsn)),
       extract(epoch FROM now() - min(written_at) FILTER (WHERE lsn > %(confirmed)s::pg_lsn))
FROM {HEARTBEAT_TABLE}
"""


@dataclass(frozen=True)
class SlotRow:
    slot_type: str  # "logical" or "physical"
    plugin: str | None
    active: bool
    wal_status: str | None  # reserved | extended | unreserved | lost
    safe_wal_size: int | None
    current_lsn: str
    confirmed_flush_lsn: str | None
    bytes_behind: int | None  # None when the slot has never confirmed a position


@dataclass(frozen=True)
class SlotReading:
    slot_name: str
    database: str
    wal_level: str
    slots_present: tuple[str, ...]
    slot: SlotRow | None  # None: no slot of that name
    heartbeat_table: bool
    caught_up_heartbeat_age: float | None = None  # seconds since the newest consumed heartbeat
    pending_heartbeat_age: float | None = None  # seconds since the oldest unconsumed heartbeat


def read_slot(connection: psycopg.Connection[Any], slot_name: str) -> SlotReading:
    with connection.transaction():
        database, wal_level, has_heartbeat = connection.execute(
            "SELECT current_database(), current_setting('wal_level'), to_regclass(%s) IS NOT NULL",
            (HEARTBEAT_TABLE,),
        ).fetchone()  # type: ignore[misc]
        slots = tuple(
            row[0] for row in connection.execute("SELECT slot_name FROM pg_replication_slots ORDER BY 1")
        )
        row = connection.execute(SLOT_QUERY, (slot_name,)).fetchone()
        slot = None if row is None else SlotRow(*row[:4], row[4], row[5], row[6], row[7])
        caught_up_age = pending_age = None
        if has_heartbeat and slot is not None and slot.confirmed_flush_lsn is not None:
            caught_up, pending = connection.execute(
                HEARTBEAT_QUERY, {"confirmed": slot.confirmed_flush_lsn}
            ).fetchone()  # type: ignore[misc]
            caught_up_age = None if caught_up is None else float(caught_up)
            pending_age = None if pending is None else float(pending)
    return SlotReading(
        slot_name=slot_name,
        database=database,
        wal_level=wal_level,
        slots_present=slots,
        slot=slot,
        heartbeat_table=bool(has_heartbeat),
        caught_up_heartbeat_age=caught_up_age,
        pending_heartbeat_age=pending_age,
    )
