"""The local inbox: one SQLite file in WAL mode, `synchronous=FULL` so a 2xx survives a power cut.

Ordering: SQLite has a single writer, and `seq` (AUTOINCREMENT) is assigned inside the write
transaction, so commit order is `seq` order and a reader can safely continue after the last `seq`
it saw. Readers never block the writer in WAL mode.

File identity: an open SQLite connection keeps writing to its file after the path was deleted or
replaced (the inode lives on, unlinked), so the receiver would acknowledge events nobody can read.
The inode seen at open time is compared with the path's around every write and every health
probe; a mismatch fails them (503) until the receiver is restarted. Reopening silently is not an
option: a fresh file restarts `seq` at 1, and the sensors' cursors (at the old `seq`) would skip
every new event until it caught up.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from airbyte_platform.events.inbox.model import (
    Inbox,
    InboxError,
    IntakeKey,
    NewEvent,
    StoredEvent,
    WriteOutcome,
    intake_deltas,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    route TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_route_seq ON webhook_events (route, seq);
-- Where each route's consumer (its sensor) has read up to, as committed in its cursor: retention
-- only deletes events at or before it.
CREATE TABLE IF NOT EXISTS webhook_consumers (
    route TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    acknowledged_at REAL NOT NULL
);
-- One row rewritten by every health probe: the probe goes through the real write path.
CREATE TABLE IF NOT EXISTS webhook_inbox_probe (id INTEGER PRIMARY KEY, checked_at REAL NOT NULL);
-- Webhook intake counters (accepted, duplicate, rejected by reason...), read by the exporter.
CREATE TABLE IF NOT EXISTS webhook_intake (
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (source, outcome, reason)
);
"""
HEALTH_PROBE = IntakeKey("receiver", "health_probe")
PROBE_EVENT_ID = "__health_probe__"
ADD_COUNT = (
    "INSERT INTO webhook_intake (source, outcome, reason, count) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (source, outcome, reason) DO UPDATE SET count = count + excluded.count"
)
# A health probe waits this long for the write lock; a write waits `busy_timeout` (default 30 s).
PROBE_LOCK_TIMEOUT_MS = 1000
COLUMNS = "event_id, source, route, kind, payload, received_at, seq"
INSERT = "INSERT INTO webhook_events (event_id, source, route, kind, payload, received_at) VALUES "
ROW_MARKS = "(?, ?, ?, ?, ?, ?)"
COLUMN_COUNT = 6


def _stored(row: tuple) -> StoredEvent:
    event_id, source, route, kind, payload, received_at, seq = row
    return StoredEvent(
        event_id=event_id,
        source=source,
        route=route,
        kind=kind,
        payload=payload,
        received_at=received_at,
        seq=seq,
        position=str(seq),
    )


def _parse_position(position: str | None) -> int:
    if position is None:
        return 0
    try:
        return int(position)
    except ValueError:
        raise InboxError(
            f"cursor position {position!r} is not a SQLite inbox position (an integer): "
            "was the sensor cursor written while WEBHOOK_INBOX_DSN pointed at PostgreSQL? Reset the sensor cursor."
        ) from None


class SqliteInbox(Inbox):
    backend = "sqlite"

    def __init__(self, path: Path, busy_timeout: float = 30.0):
        self.path = path
        self._busy_timeout_ms = int(busy_timeout * 1000)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the receiver opens the inbox in its main thread and then
            # writes only from the group-commit thread; no two threads use it at once.
            self._db = sqlite3.connect(
                path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            # Events per statement: the bound-variable limit (999 in old builds, 32766+ in new ones).
            self._chunk = max(1, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // COLUMN_COUNT)
        except (OSError, sqlite3.Error) as exc:
            raise InboxError(
                f"cannot open the webhook inbox {path} ({exc}): check WEBHOOK_INBOX_DSN"
            ) from exc
        self._identity = self._current_identity()

    # -- file identity ---------------------------------------------------------------------------
    def _current_identity(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        return status.st_dev, status.st_ino

    def _check_identity(self) -> None:
        current = self._current_identity()
        if current is None:
            raise InboxError(
                f"the webhook inbox file {self.path} was deleted while the receiver ran: nothing written "
                "now could be read by the sensors. Restore the file and restart the receiver."
            )
        if current != self._identity:
            raise InboxError(
                f"the webhook inbox file {self.path} was moved or replaced while the receiver ran: this "
                "process still holds the old file. Restart the receiver."
            )

    # -- writing ---------------------------------------------------------------------------------
    def _in_write_transaction(self, work: Callable[[], object]) -> None:
        """Run `work()` in BEGIN IMMEDIATE ... COMMIT; raise the error that actually happened.

        After some errors (disk full, I/O error) SQLite has already rolled the transaction back,
        and a ROLLBACK then fails with "no transaction is active": raised from the except block,
        that message would replace the real one in every log.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            work()
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise

    def insert_batch(
        self, events: Sequence[NewEvent], counts: Mapping[IntakeKey, int] | None = None
    ) -> list[WriteOutcome]:
        # One SELECT and one multi-row INSERT per chunk of the batch, not one statement per event:
        # the sqlite3 module releases and re-takes the GIL around every statement, and under load
        # each re-take waits for the receiver's event loop (up to the 5 ms switch interval), so
        # per-row statements made the group-commit thread, not the disk, the bottleneck.
        # BEGIN IMMEDIATE takes the write lock first, so no other writer can store an id between
        # the SELECT and the INSERT: "already stored" and "stored now" are exact.
        outcomes: list[WriteOutcome] = []
        if not events and not counts:
            return outcomes
        seen: set[str] = set()

        def insert_all() -> None:
            for start in range(0, len(events), self._chunk):
                outcomes.extend(self._insert_chunk(events[start : start + self._chunk], seen))
            self._db.executemany(ADD_COUNT, [(*key, n) for key, n in intake_deltas(events, outcomes, counts)])

        self._check_identity()  # never write into a file the sensors no longer read
        try:
            self._in_write_transaction(insert_all)
        except sqlite3.Error as exc:
            raise InboxError(f"writing to the webhook inbox {self.path} failed: {exc}") from exc
        # Deleted during the transaction: committed to an orphaned inode; refuse (503) so the
        # sender retries against a receiver that writes where the sensors read.
        self._check_identity()
        return outcomes

    def _insert_chunk(self, events: Sequence[NewEvent], seen: set[str]) -> list[WriteOutcome]:
        ids = [event.event_id for event in events]
        marks = ",".join("?" * len(ids))
        seen.update(
            row[0]
            for row in self._db.execute(
                f"SELECT event_id FROM webhook_events WHERE event_id IN ({marks})", ids
            )
        )
        outcomes: list[WriteOutcome] = []
        values: list[object] = []
        for event in events:
            if event.event_id in seen:  # stored before, or earlier in this very batch
                outcomes.append(WriteOutcome.DUPLICATE)
                continue
            seen.add(event.event_id)
            outcomes.append(WriteOutcome.STORED)
            values += (
                event.event_id,
                event.source,
                event.route,
                event.kind,
                event.payload,
                event.received_at,
            )
        if values:
            self._db.execute(INSERT + ",".join([ROW_MARKS] * (len(values) // COLUMN_COUNT)), values)
        return outcomes

    def intake_counts(self) -> dict[IntakeKey, int]:
        rows = self._db.execute("SELECT source, outcome, reason, count FROM webhook_intake").fetchall()
        return {IntakeKey(source, outcome, reason): count for source, outcome, reason, count in rows}

    def read_after(self, route: str, position: str | None, limit: int = 500) -> list[StoredEvent]:
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM webhook_events WHERE route = ? AND seq > ? ORDER BY seq LIMIT ?",
            (route, _parse_position(position), limit),
        ).fetchall()
        return [_stored(row) for row in rows]

    def fetch(self, event_ids: Sequence[str]) -> list[StoredEvent]:
        if not event_ids:
            return []
        marks = ",".join("?" * len(event_ids))
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM webhook_events WHERE event_id IN ({marks}) ORDER BY seq", tuple(event_ids)
        ).fetchall()
        return [_stored(row) for row in rows]

    def count(self, route: str | None = None) -> int:
        if route is None:
            return self._db.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
        return self._db.execute("SELECT count(*) FROM webhook_events WHERE route = ?", (route,)).fetchone()[0]

    def event_ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT event_id FROM webhook_events ORDER BY seq")]

    def acknowledge(self, route: str, position: str) -> None:
        seq = _parse_position(position)
        try:
            self._db.execute(
                "INSERT INTO webhook_consumers (route, position, acknowledged_at) VALUES (?, ?, ?) "
                "ON CONFLICT (route) DO UPDATE SET position = excluded.position, "
                "acknowledged_at = excluded.acknowledged_at",
                (route, seq, time.time()),
            )
        except sqlite3.Error as exc:
            raise InboxError(
                f"recording the read position in the webhook inbox {self.path} failed: {exc}"
            ) from exc

    def prune(self, received_before: float) -> int:
        try:
            return self._db.execute(
                "DELETE FROM webhook_events WHERE received_at < ? AND seq <= COALESCE("
                "(SELECT position FROM webhook_consumers c WHERE c.route = webhook_events.route), 0)",
                (received_before,),
            ).rowcount
        except sqlite3.Error as exc:
            raise InboxError(f"pruning the webhook inbox {self.path} failed: {exc}") from exc

    def ping(self) -> None:
        """A committed write of the probe row, the way an event is written (a read would pass on
        a full disk, a read-only file or a lock held elsewhere), and the file's identity."""
        self._check_identity()
        try:
            self._db.execute(f"PRAGMA busy_timeout = {PROBE_LOCK_TIMEOUT_MS}")

            def probe() -> None:
                self._db.execute(
                    "INSERT INTO webhook_inbox_probe (id, checked_at) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                    (time.time(),),
                )
                # Near a full disk, a write smaller than an event's passes where a POST fails: so the
                # probe touches every page an event write touches (the events table, its indexes,
                # the sequence, the intake counters) with a row it deletes before committing.
                self._db.execute(
                    INSERT + ROW_MARKS, (PROBE_EVENT_ID, "probe", PROBE_EVENT_ID, "probe", "{}", time.time())
                )
                self._db.execute("DELETE FROM webhook_events WHERE event_id = ?", (PROBE_EVENT_ID,))
                self._db.execute(ADD_COUNT, (*HEALTH_PROBE, 1))

            self._in_write_transaction(probe)
        except sqlite3.Error as exc:
            raise InboxError(f"the webhook inbox {self.path} cannot be written: {exc}") from exc
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        self._check_identity()

    def close(self) -> None:
        self._db.close()
