"""The prod inbox: a PostgreSQL table shared by the receiver pods and the Dagster sensors.

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

from collections.abc import Sequence
from typing import Any

import psycopg

from airbyte_platform.events.inbox.model import Inbox, InboxError, NewEvent, StoredEvent, WriteOutcome
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
"""
COLUMNS = "event_id, source, route, kind, payload, received_at, seq, txid::text"
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
            "sensor cursor written while the inbox was SQLite? Reset the sensor cursor."
        )
    return txid, int(seq)


class PostgresInbox(Inbox):
    backend = "postgresql"

    def __init__(self, dsn: str, connect_timeout: int = 10):
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._db: psycopg.Connection[Any] | None = None

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

    def insert_batch(self, events: Sequence[NewEvent]) -> list[WriteOutcome]:
        # Repeats inside the batch are settled here (the first one is written); ids the INSERT
        # does not return were stored before. ON CONFLICT DO NOTHING also covers another receiver
        # pod committing the same id concurrently: one of them stores it, the other reports a duplicate.
        first: dict[str, NewEvent] = {}
        for event in events:
            first.setdefault(event.event_id, event)
        if not first:
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

        def write(db: psycopg.Connection[Any]) -> set[str]:
            with db.transaction():
                return {row[0] for row in db.execute(INSERT, columns).fetchall()}

        stored = self._run("writing events", write)
        outcomes: list[WriteOutcome] = []
        for event in events:
            if event.event_id in stored:
                stored.discard(event.event_id)  # later repeats in this batch are duplicates
                outcomes.append(WriteOutcome.STORED)
            else:
                outcomes.append(WriteOutcome.DUPLICATE)
        return outcomes

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
