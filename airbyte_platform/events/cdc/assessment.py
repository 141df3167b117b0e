"""What a slot reading means: the verdicts of `check_cdc_health` and `check_replication_lag`.

Pure functions of a `SlotReading` (plus the last sync time), shared by the asset checks and the
lag sensor so both say the same thing. Every failure mode has its own code and a message that
names the slot, the measured figure and the limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from airbyte_platform.events.cdc.slot import SlotReading

HEALTHY_WAL_STATUS = ("reserved", "extended")
Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    code: str  # "ok", or the failure mode: slot_missing, wal_lost, lag_seconds, ...
    message: str
    severity: Severity = "ERROR"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return not self.passed and self.severity == "ERROR"


def size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def unreachable(slot_name: str, reason: str) -> Verdict:
    return Verdict(
        False,
        "unreachable",
        f"cannot read replication slot {slot_name!r}: the CDC source database is unreachable "
        f"(CDC_SOURCE_DSN): {reason}",
    )


def assess_health(reading: SlotReading) -> Verdict:
    name, slot = reading.slot_name, reading.slot
    if reading.wal_level != "logical":
        return Verdict(
            False,
            "wal_level",
            f"wal_level is {reading.wal_level!r} on the CDC source, so replication slot {name!r} cannot "
            "decode changes: set wal_level = logical (ALTER SYSTEM) and restart PostgreSQL",
        )
    if slot is None:
        present = ", ".join(reading.slots_present) or "none"
        return Verdict(
            False,
            "slot_missing",
            f"replication slot {name!r} does not exist in database {reading.database!r} (slots present: "
            f"{present}); create it with SELECT pg_create_logical_replication_slot('{name}', 'pgoutput') "
            "or fix CDC_SLOT_NAME",
        )
    metadata = {
        "slot_name": name,
        "active": slot.active,
        "wal_status": slot.wal_status or "unknown",
        "plugin": slot.plugin or "none",
    }
    if slot.slot_type != "logical":
        return Verdict(
            False,
            "not_logical",
            f"replication slot {name!r} is a {slot.slot_type} slot; CDC needs a logical slot",
        )
    if slot.plugin != "pgoutput":
        return Verdict(
            False,
            "wrong_plugin",
            f"replication slot {name!r} uses plugin {slot.plugin!r}; Airbyte CDC reads pgoutput",
            metadata=metadata,
        )
    if slot.wal_status == "lost":
        return Verdict(
            False,
            "wal_lost",
            f"replication slot {name!r} lost WAL it needed (wal_status=lost) and can no longer replicate: "
            "drop and recreate it, then run a full refresh of the connection",
            metadata=metadata,
        )
    if slot.wal_status not in HEALTHY_WAL_STATUS:
        return Verdict(
            False,
            "wal_unreserved",
            f"replication slot {name!r} holds more WAL than max_slot_wal_keep_size "
            f"(wal_status={slot.wal_status}): it will be invalidated at the next checkpoint unless its "
            "consumer catches up",
            metadata=metadata,
        )
    if not slot.active:
        # Airbyte reads the slot during a sync and disconnects between syncs, so an idle slot is
        # normal; it is reported as a warning and the lag check decides whether it falls behind.
        return Verdict(
            False,
            "inactive",
            f"replication slot {name!r} has no consumer connected (active=false); normal between "
            "Airbyte syncs, see check_replication_lag for how far behind it is",
            severity="WARN",
            metadata=metadata,
        )
    return Verdict(
        True, "ok", f"replication slot {name!r} is active, wal_status={slot.wal_status}", metadata=metadata
    )


def seconds_behind(
    reading: SlotReading, last_sync_at: float | None, now: float
) -> tuple[float | None, str, bool]:
    """(seconds, how it was measured, whether it is only a lower bound)."""
    slot = reading.slot
    if slot is not None and slot.bytes_behind == 0:
        return 0.0, "no WAL pending", False
    if reading.caught_up_heartbeat_age is not None:
        return reading.caught_up_heartbeat_age, "heartbeat", False
    if last_sync_at is not None:
        return max(0.0, now - last_sync_at), "last successful sync", False
    if reading.pending_heartbeat_age is not None:
        return reading.pending_heartbeat_age, "oldest unconsumed heartbeat", True
    return None, "unknown (no heartbeat table and no recorded sync)", False


def assess_lag(
    reading: SlotReading,
    *,
    max_lag_seconds: int,
    max_lag_bytes: int,
    last_sync_at: float | None,
    now: float,
) -> Verdict:
    name, slot = reading.slot_name, reading.slot
    health = assess_health(reading)
    if health.is_error or slot is None:
        return Verdict(False, f"unmeasurable_{health.code}", f"cannot measure the lag: {health.message}")
    if slot.bytes_behind is None:
        return Verdict(
            False,
            "never_confirmed",
            f"replication slot {name!r} has never confirmed a position (confirmed_flush_lsn is null)",
        )
    seconds, source, lower_bound = seconds_behind(reading, last_sync_at, now)
    metadata: dict[str, Any] = {
        "slot_name": name,
        "bytes_behind": slot.bytes_behind,
        "max_lag_bytes": max_lag_bytes,
        "max_lag_seconds": max_lag_seconds,
        "lag_seconds_source": source,
        "current_lsn": slot.current_lsn,
        "confirmed_flush_lsn": slot.confirmed_flush_lsn or "",
    }
    if seconds is not None:
        metadata["seconds_behind"] = round(seconds, 1)
    problems: list[str] = []
    codes: list[str] = []
    if slot.bytes_behind > max_lag_bytes:
        codes.append("lag_bytes")
        problems.append(
            f"{size(slot.bytes_behind)} of WAL behind (limit {size(max_lag_bytes)}, CDC_MAX_LAG_BYTES)"
        )
    if seconds is not None and seconds > max_lag_seconds:
        codes.append("lag_seconds")
        since = dt.datetime.fromtimestamp(now - seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        problems.append(
            f"{'at least ' if lower_bound else ''}{seconds:,.0f} s behind (limit {max_lag_seconds} s, "
            f"CDC_MAX_LAG_SECONDS); caught up last at {since} ({source})"
        )
    if problems:
        return Verdict(
            False,
            "+".join(codes),
            f"replication slot {name!r} is {' and '.join(problems)}",
            metadata=metadata,
        )
    timing = "time lag unknown" if seconds is None else f"{seconds:,.0f} s"
    return Verdict(
        True,
        "ok",
        f"replication slot {name!r} is {size(slot.bytes_behind)} / {timing} behind "
        f"(limits {size(max_lag_bytes)} / {max_lag_seconds} s; time from {source})",
        metadata=metadata,
    )
