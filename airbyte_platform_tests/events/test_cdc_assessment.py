"""Verdicts for slot states a test server cannot easily be put in (lost WAL, wal_level=replica, other plugins).

The readings are the shape `read_slot` returns from pg_replication_slots (see test_cdc.py for the
real server); here each failure mode is pinned to its own code and message.
"""

from __future__ import annotations

import dataclasses

import pytest

from airbyte_platform.events.cdc.assessment import assess_health, assess_lag, seconds_behind, size
from airbyte_platform.events.cdc.slot import SlotReading, SlotRow

ROW = SlotRow(
    slot_type="logical",
    plugin="pgoutput",
    active=True,
    wal_status="reserved",
    safe_wal_size=None,
    current_lsn="0/3000000",
    confirmed_flush_lsn="0/2FF0000",
    bytes_behind=65536,
)
READING = SlotReading(
    slot_name="airbyte_slot", database="app", wal_level="logical", slots_present=("airbyte_slot",), slot=ROW,
    heartbeat_table=True,
)  # fmt: skip


def reading(**row_changes: object) -> SlotReading:
    return dataclasses.replace(READING, slot=dataclasses.replace(ROW, **row_changes))


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        (reading(wal_status="lost"), "wal_lost", "lost WAL it needed (wal_status=lost)"),
        (reading(wal_status="unreserved"), "wal_unreserved", "invalidated at the next checkpoint"),
        (reading(plugin="wal2json"), "wrong_plugin", "uses plugin 'wal2json'; Airbyte CDC reads pgoutput"),
        (dataclasses.replace(READING, wal_level="replica"), "wal_level", "wal_level is 'replica'"),
        (dataclasses.replace(READING, slot=None, slots_present=()), "slot_missing", "(slots present: none)"),
    ],
)
def test_each_health_failure_has_its_code_and_names_the_slot(state, code, message):
    verdict = assess_health(state)
    assert (verdict.passed, verdict.severity, verdict.code) == (False, "ERROR", code)
    assert message in verdict.message and "airbyte_slot" in verdict.message
    lag = assess_lag(state, max_lag_seconds=300, max_lag_bytes=1 << 30, last_sync_at=None, now=0)
    assert not lag.passed and lag.code == f"unmeasurable_{code}"


def test_extended_wal_is_still_healthy():
    assert assess_health(reading(wal_status="extended")).passed


def test_a_slot_that_never_confirmed_cannot_be_measured():
    verdict = assess_lag(
        reading(confirmed_flush_lsn=None, bytes_behind=None),
        max_lag_seconds=300,
        max_lag_bytes=1,
        last_sync_at=None,
        now=0,
    )
    assert verdict.code == "never_confirmed" and "confirmed_flush_lsn is null" in verdict.message


def test_bytes_and_seconds_can_fail_together():
    state = dataclasses.replace(reading(bytes_behind=300 * 1024 * 1024), caught_up_heartbeat_age=412.0)
    verdict = assess_lag(
        state, max_lag_seconds=300, max_lag_bytes=256 * 1024 * 1024, last_sync_at=None, now=1e9
    )
    assert verdict.code == "lag_bytes+lag_seconds"
    assert verdict.message.startswith(
        "replication slot 'airbyte_slot' is 300.0 MiB of WAL behind (limit 256.0 MiB"
    )
    assert " and 412 s behind (limit 300 s, CDC_MAX_LAG_SECONDS)" in verdict.message


def test_time_lag_sources_in_order_of_trust():
    now = 10_000.0
    assert seconds_behind(reading(bytes_behind=0), last_sync_at=None, now=now) == (
        0.0,
        "no WAL pending",
        False,
    )
    heartbeat = dataclasses.replace(READING, caught_up_heartbeat_age=42.0, pending_heartbeat_age=99.0)
    assert seconds_behind(heartbeat, last_sync_at=now - 5, now=now) == (42.0, "heartbeat", False)
    assert seconds_behind(READING, last_sync_at=now - 5, now=now) == (5.0, "last successful sync", False)
    pending_only = dataclasses.replace(READING, pending_heartbeat_age=99.0)
    assert seconds_behind(pending_only, last_sync_at=None, now=now) == (
        99.0,
        "oldest unconsumed heartbeat",
        True,
    )
    assert seconds_behind(READING, last_sync_at=None, now=now)[0] is None


def test_sizes_read_like_a_person_would_write_them():
    assert [size(n) for n in (512, 65536, 300 * 1024 * 1024, 5 * 1024**4)] == [
        "512 bytes",
        "64.0 KiB",
        "300.0 MiB",
        "5,120.0 GiB",
    ]
