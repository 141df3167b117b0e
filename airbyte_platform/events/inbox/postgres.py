"""The inbox: a PostgreSQL table shared by the receiver (pods) and the Dagster sensors, in prod and locally.

Ordering: with concurrent writers a BIGSERIAL is not commit order (a transaction holding seq 7 can
commit after one holding seq 8, and a reader that moved past 8 would never see 7). Each row
therefore records the id of the transaction that wrote it (`txid`), and readers only return rows
whose transaction is older than every transaction still running
(`pg_snapshot_xmin(pg_current_snapshot())`), ordered by (txid, seq). Every row committed later has
a txid at or above that horizon, so it sorts after anything already read. The price: a
long-running write transaction anywhere in the cluster delays (never loses) events; keep the inbox
in a database without long transactions.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from airbyte_platform.events.inbox.model import (
    Inbox,
    InboxError,
    IntakeKey,
    NewEvent,
    StoredEvent,
    WriteOutcome,
    intake_deltas,
)
from airbyte_platform.events.redact import redact_dsn

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    route TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    txid XID8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX IF NOT EXISTS webhook_events_route_txid_seq ON webhook_events (route, txid, seq);
-- Where each route's consumer (its sensor) has read up to: retention only deletes events before it.
CREATE TABLE IF NOT EXISTS webhook_consumers (
    route TEXT PRIMARY KEY,
    txid XID8 NOT NULL,
    seq BIGINT NOT NULL,
    acknowledged_at DOUBLE PRECISION NOT NULL
);
-- One row rewritten by every health probe: the probe goes through the real write path.
CREATE TABLE IF NOT EXISTS webhook_inbox_probe (id INTEGER PRIMARY KEY, checked_at DOUBLE PRECISION NOT NULL);
-- Webhook intake counters (accepted, duplicate, rejected by reason...), read by the exporter.
-- One row per counter and writer (receiver process): pods never wait on each other's counter row
-- lock, which a shared row would hold until each batch's commit (its fsync). Readers sum over
-- writers; `fold_intake_counts` merges the rows of past processes so the table stays small.
CREATE TABLE IF NOT EXISTS webhook_intake (
    writer TEXT NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (writer, source, outcome, reason)
);
"""
ADD_COUNTS = (
    "INSERT INTO webhook_intake (writer, source, outcome, reason, count) "
    "SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]) "
    "ON CONFLICT (writer, source, outcome, reason) DO UPDATE SET count = webhook_intake.count + excluded.count"
)
# Merges every writer's rows into writer '' in one statement: a row a live receiver adds meanwhile
# is not in the DELETE's snapshot and stays, so no count is lost or counted twice.
FOLD_COUNTS = (
    "WITH folded AS (DELETE FROM webhook_intake WHERE writer <> '' RETURNING source, outcome, reason, count) "
    "INSERT INTO webhook_intake (writer, source, outcome, reason, count) "
    "SELECT '', source, outcome, reason, sum(count) FROM folded GROUP BY source, outcome, reason "
    "ON CONFLICT (writer, source, outcome, reason) DO UPDATE SET count = webhook_intake.count + excluded.count"
)
# The txid is read as text under its own name: named `txid`, the output column would shadow the
# table's in ORDER BY (PostgreSQL matches output names first), and events would sort as text, '1000'
# before '999', while WHERE compares numbers: the reader would skip and repeat events each time the
# txid gains a digit.
COLUMNS = "event_id, source, route, kind, payload, received_at, seq, txid::text AS txid_text"
# The whole batch in one statement (one round trip, whatever its size): columns as arrays.
INSERT = (
    "INSERT INTO webhook_events (event_id, source, route, kind, payload, received_at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[]) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
# Two processes creating the schema at once would collide on the catalog; serialise them.
SCHEMA_LOCK = 0x5EB400C


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    event_id, source, route, kind, payload, received_at, seq, txid = row
    return StoredEvent(
        event_id=event_id,
        source=source,
        route=route,
        kind=kind,
        payload=payload,
        received_at=received_at,
        seq=seq,
        position=f"{txid}:{seq}",
    )


def _parse_position(position: str | None) -> tuple[str, int]:
    if position is None:
        return "0", 0
    txid, sep, seq = position.partition(":")
    if not sep or not txid.isdigit() or not seq.isdigit():
        raise InboxError(
            f"cursor position {position!r} is not a PostgreSQL inbox position (<txid>:<seq>): was the "
            "sensor cursor written by the former SQLite inbox (an integer)? Reset the sensor cursor."
        )
    return txid, int(seq)


class PostgresInbox(Inbox):
    backend = "postgresql"

    def __init__(self, dsn: str, connect_timeout: int = 10):
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._db: psycopg.Connection[Any] | None = None
        # This process's counter rows (see webhook_intake); unique even when pids repeat across pods.
        self._writer = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"

        def create_schema(db: psycopg.Connection[Any]) -> None:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                db.execute(SCHEMA)

        self._run("creating the schema", create_schema)

    def _connection(self) -> psycopg.Connection[Any]:
        """The open connection, reconnecting after a failure (a restarted database, a failover)."""
        if self._db is None or self._db.closed or self._db.broken:
            try:
                self._db = psycopg.connect(self._dsn, autocommit=True, connect_timeout=self._connect_timeout)
            except psycopg.Error as exc:
                # The DSN carries a password: name the variable, never print the DSN (libpq quotes
                # it in some errors, hence the redaction and `from None`).
                raise InboxError(
                    f"cannot connect to the webhook inbox (WEBHOOK_INBOX_DSN): {redact_dsn(str(exc), self._dsn)}"
                ) from None
        return self._db

    def _run(self, action: str, fn: Any) -> Any:
        db = self._connection()
        try:
            return fn(db)
        except psycopg.OperationalError as exc:
            db.close()
            raise InboxError(
                f"{action} failed on the webhook inbox (WEBHOOK_INBOX_DSN): {redact_dsn(str(exc), self._dsn)}"
            ) from exc
        except psycopg.Error as exc:
            raise InboxError(
                f"{action} failed on the webhook inbox: {redact_dsn(str(exc), self._dsn)}"
            ) from exc

    def insert_batch(
        self, events: Sequence[NewEvent], counts: Mapping[IntakeKey, int] | None = None
    ) -> list[WriteOutcome]:
        # Repeats inside the batch are settled here (the first one is written); ids the INSERT
        # does not return were stored before. ON CONFLICT DO NOTHING also covers another receiver
        # pod committing the same id concurrently: one of them stores it, the other reports a duplicate.
        first: dict[str, NewEvent] = {}
        for event in events:
            first.setdefault(event.event_id, event)
        if not first and not counts:
            return []
        unique = list(first.values())
        columns = (
            [e.event_id for e in unique],
            [e.source for e in unique],
            [e.route for e in unique],
            [e.kind for e in unique],
            [e.payload for e in unique],
            [e.received_at for e in unique],
        )

        def write(db: psycopg.Connection[Any]) -> list[WriteOutcome]:
            with db.transaction():
                stored = {row[0] for row in db.execute(INSERT, columns).fetchall()} if unique else set()
                outcomes: list[WriteOutcome] = []
                for event in events:
                    if event.event_id in stored:
                        stored.discard(event.event_id)  # later repeats in this batch are duplicates
                        outcomes.append(WriteOutcome.STORED)
                    else:
                        outcomes.append(WriteOutcome.DUPLICATE)
                deltas = intake_deltas(events, outcomes, counts)
                db.execute(
                    ADD_COUNTS,
                    (
                        self._writer,
                        *([key[i] for key, _ in deltas] for i in range(3)),
                        [n for _, n in deltas],
                    ),
                )
                return outcomes

        return self._run("writing events", write)

    def intake_counts(self) -> dict[IntakeKey, int]:
        rows = self._run(
            "reading the intake counters",
            lambda db: db.execute(
                "SELECT source, outcome, reason, sum(count)::bigint FROM webhook_intake "
                "GROUP BY source, outcome, reason"
            ).fetchall(),
        )
        return {IntakeKey(source, outcome, reason): count for source, outcome, reason, count in rows}

    def fold_intake_counts(self) -> None:
        """Merge the counter rows of every writer into one (the receiver does it when it starts)."""
        self._run("folding the intake counters", lambda db: db.execute(FOLD_COUNTS))

    def read_after(self, route: str, position: str | None, limit: int = 500) -> list[StoredEvent]:
        txid, seq = _parse_position(position)
        rows = self._run(
            "reading events",
            lambda db: db.execute(
                f"SELECT {COLUMNS} FROM webhook_events "
                "WHERE route = %s AND (txid, seq) > (%s::xid8, %s) "
                "AND txid < pg_snapshot_xmin(pg_current_snapshot()) "
                "ORDER BY txid, seq LIMIT %s",
                (route, txid, seq, limit),
            ).fetchall(),
        )
        return [_stored(row) for row in rows]

    def fetch(self, event_ids: Sequence[str]) -> list[StoredEvent]:
        if not event_ids:
            return []
        rows = self._run(
            "fetching events",
            lambda db: db.execute(
                f"SELECT {COLUMNS} FROM webhook_events WHERE event_id = ANY(%s) ORDER BY txid, seq",
                (list(event_ids),),
            ).fetchall(),
        )
        return [_stored(row) for row in rows]

    def count(self, route: str | None = None) -> int:
        if route is None:
            return self._run(
                "counting", lambda db: db.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
            )
        return self._run(
            "counting",
            lambda db: db.execute(
                "SELECT count(*) FROM webhook_events WHERE route = %s", (route,)
            ).fetchone()[0],
        )

    def event_ids(self) -> list[str]:
        rows = self._run(
            "listing ids",
            lambda db: db.execute("SELECT event_id FROM webhook_events ORDER BY seq").fetchall(),
        )
        return [row[0] for row in rows]

    def acknowledge(self, route: str, position: str) -> None:
        txid, seq = _parse_position(position)
        self._run(
            "recording the read position",
            lambda db: db.execute(
                "INSERT INTO webhook_consumers (route, txid, seq, acknowledged_at) "
                "VALUES (%s, %s::xid8, %s, extract(epoch FROM now())) ON CONFLICT (route) DO UPDATE "
                "SET txid = excluded.txid, seq = excluded.seq, acknowledged_at = excluded.acknowledged_at",
                (route, txid, seq),
            ),
        )

    def prune(self, received_before: float) -> int:
        """Delete the acknowledged old events; also fold the intake counters of past writers (the
        receiver prunes when it starts, so every restart keeps the counter table small)."""
        self.fold_intake_counts()
        return self._run(
            "pruning",
            lambda db: (
                db.execute(
                    "DELETE FROM webhook_events e USING webhook_consumers c WHERE e.route = c.route "
                    "AND e.received_at < %s AND (e.txid, e.seq) <= (c.txid, c.seq)",
                    (received_before,),
                ).rowcount
            ),
        )

    def ping(self) -> None:
        """A committed write of the probe row (a read-only replica or a full disk fail it; SELECT 1 passes)."""
        self._run(
            "the write probe",
            lambda db: db.execute(
                "INSERT INTO webhook_inbox_probe (id, checked_at) VALUES (1, extract(epoch FROM now())) "
                "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
            ),
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
