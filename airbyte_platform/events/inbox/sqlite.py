"""The local inbox: one SQLite file in WAL mode, `synchronous=FULL` so a 2xx survives a power cut.

Ordering: SQLite has a single writer, and `seq` (AUTOINCREMENT) is assigned inside the write
transaction, so commit order is `seq` order and a reader can safely continue after the last `seq`
it saw. Readers never block the writer in WAL mode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from airbyte_platform.events.inbox.model import Inbox, InboxError, NewEvent, StoredEvent, WriteOutcome

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
"""
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

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the receiver opens the inbox in its main thread and then
            # writes only from the group-commit thread; no two threads use it at once.
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            # Events per statement: the bound-variable limit (999 in old builds, 32766+ in new ones).
            self._chunk = max(1, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // COLUMN_COUNT)
        except (OSError, sqlite3.Error) as exc:
            raise InboxError(
                f"cannot open the webhook inbox {path} ({exc}): check WEBHOOK_INBOX_DSN"
            ) from exc

    def insert_batch(self, events: Sequence[NewEvent]) -> list[WriteOutcome]:
        # One SELECT and one multi-row INSERT per chunk of the batch, not one statement per event:
        # the sqlite3 module releases and re-takes the GIL around every statement, and under load
        # each re-take waits for the receiver's event loop (up to the 5 ms switch interval), so
        # per-row statements made the group-commit thread, not the disk, the bottleneck.
        # BEGIN IMMEDIATE takes the write lock first, so no other writer can store an id between
        # the SELECT and the INSERT: "already stored" and "stored now" are exact.
        outcomes: list[WriteOutcome] = []
        if not events:
            return outcomes
        seen: set[str] = set()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(events), self._chunk):
                    outcomes += self._insert_chunk(events[start : start + self._chunk], seen)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise InboxError(f"writing to the webhook inbox {self.path} failed: {exc}") from exc
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

    def prune(self, received_before: float) -> int:
        return self._db.execute(
            "DELETE FROM webhook_events WHERE received_at < ?", (received_before,)
        ).rowcount

    def ping(self) -> None:
        try:
            self._db.execute("SELECT 1 FROM webhook_events LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise InboxError(f"the webhook inbox {self.path} is not readable: {exc}") from exc

    def close(self) -> None:
        self._db.close()
