"""The durable inbox, on SQLite (local) and a real PostgreSQL (prod): same interface, same guarantees."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import psycopg
import pytest

from airbyte_platform.events.inbox import InboxError, NewEvent, WriteOutcome, open_inbox

pytestmark = pytest.mark.xdist_group("events_pg")


def event(event_id: str, route: str = "event_driven_sync", source: str = "stripe") -> NewEvent:
    return NewEvent(
        event_id=event_id,
        source=source,  # type: ignore[arg-type]
        route=route,
        kind="charge.succeeded",
        payload=f'{{"id": "{event_id}"}}',
        received_at=time.time(),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def dsn(request: pytest.FixtureRequest, sqlite_dsn: str) -> str:
    return sqlite_dsn if request.param == "sqlite" else request.getfixturevalue("pg_inbox_dsn")


def test_duplicates_are_acknowledged_and_stored_once(dsn):
    with open_inbox(dsn) as inbox:
        assert inbox.insert_batch([event("evt_1"), event("evt_2")]) == [WriteOutcome.STORED] * 2
        # A redelivery, and a duplicate inside one batch.
        assert inbox.insert_batch([event("evt_1"), event("evt_3"), event("evt_3")]) == [
            WriteOutcome.DUPLICATE,
            WriteOutcome.STORED,
            WriteOutcome.DUPLICATE,
        ]
        assert inbox.event_ids() == ["evt_1", "evt_2", "evt_3"]
    with open_inbox(dsn) as reopened:  # committed, not just buffered in a connection
        assert reopened.count() == 3


def test_reading_continues_after_the_position_and_filters_by_route(dsn):
    with open_inbox(dsn) as inbox:
        inbox.insert_batch(
            [event("a"), event("t1", route="airbyte_event_driven_sync", source="trigger"), event("b")]
        )
        inbox.insert_batch([event("c")])
        first = inbox.read_after("event_driven_sync", None, limit=2)
        assert [e.event_id for e in first] == ["a", "b"]
        rest = inbox.read_after("event_driven_sync", first[-1].position)
        assert [e.event_id for e in rest] == ["c"]
        assert inbox.read_after("event_driven_sync", rest[-1].position) == []
        assert [e.event_id for e in inbox.read_after("airbyte_event_driven_sync", None)] == ["t1"]
        assert [e.event_id for e in inbox.fetch(["c", "a", "missing"])] == ["a", "c"]
        assert rest[0].data() == {"id": "c"}


def test_a_position_from_the_other_backend_is_refused_clearly(dsn):
    foreign = "12:3" if dsn.startswith("sqlite") else "12"
    with open_inbox(dsn) as inbox, pytest.raises(InboxError, match="Reset the sensor cursor"):
        inbox.read_after("event_driven_sync", foreign)


def test_unknown_dsn_scheme_names_the_variable():
    with pytest.raises(InboxError, match="WEBHOOK_INBOX_DSN has scheme 'mysql'"):
        open_inbox("mysql://somewhere/db")


def test_postgres_reader_never_skips_an_event_committed_out_of_order(pg_inbox_dsn):
    """A transaction that took an earlier seq but commits later must still be read after the cursor.

    A plain `seq > cursor` reader would return b, move its cursor past it, and never see a.
    """
    with open_inbox(pg_inbox_dsn) as inbox:
        with psycopg.connect(pg_inbox_dsn) as slow:  # not autocommit: holds its transaction open
            slow.execute(
                "INSERT INTO webhook_events (event_id, source, route, kind, payload, received_at) "
                "VALUES ('a', 'stripe', 'event_driven_sync', 'k', '{}', 0)"
            )
            inbox.insert_batch([event("b")])  # a later seq, committed first
            assert inbox.read_after("event_driven_sync", None) == []  # 'a' may still commit before 'b'
            slow.commit()
        events = inbox.read_after("event_driven_sync", None)
        assert [e.event_id for e in events] == ["a", "b"]
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        assert inbox.read_after("event_driven_sync", events[-1].position) == []


def test_sqlite_inbox_is_in_wal_mode_with_full_sync(sqlite_dsn):
    with open_inbox(sqlite_dsn) as inbox:
        db = inbox._db  # type: ignore[attr-defined]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_sqlite_batches_larger_than_one_statement_keep_exact_outcomes(sqlite_dsn):
    """A batch is written a chunk per statement (bound-variable limit); duplicates across chunks still count."""
    with open_inbox(sqlite_dsn) as inbox:
        inbox._chunk = 2  # type: ignore[attr-defined]  # instead of ~40,000 events per statement
        inbox.insert_batch([event("old")])
        outcomes = inbox.insert_batch([event(i) for i in ["a", "b", "old", "c", "a", "d", "c"]])
        assert [o.value for o in outcomes] == [
            "stored", "stored", "duplicate", "stored", "duplicate", "stored", "duplicate",
        ]  # fmt: skip
        assert inbox.event_ids() == ["old", "a", "b", "c", "d"]


def old(event_id: str, route: str = "event_driven_sync") -> NewEvent:
    return NewEvent(event_id, "stripe", route, "charge.succeeded", "{}", received_at=1.0)  # 1970


def test_retention_keeps_every_event_its_consumer_has_not_read(dsn):
    with open_inbox(dsn) as inbox:
        inbox.insert_batch([old("a"), old("b"), old("t", route="postgres_cdc_replication"), old("c")])
        assert inbox.prune(time.time()) == 0  # nobody has read anything: nothing goes, however old
        read = inbox.read_after("event_driven_sync", None, limit=2)
        inbox.acknowledge("event_driven_sync", read[-1].position)
        assert inbox.prune(time.time()) == 2
        assert inbox.event_ids() == ["t", "c"]  # another route's unread event and the unread "c"
        assert inbox.prune(0.5) == 0  # and nothing newer than the retention limit, read or not


def test_the_health_probe_writes_and_fails_while_another_process_holds_the_write_lock(sqlite_dsn):
    with open_inbox(sqlite_dsn) as inbox:
        inbox.ping()
        holder = sqlite3.connect(sqlite_dsn.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # a writer elsewhere (another receiver, a maintenance job)
        try:
            with pytest.raises(InboxError, match="cannot be written: database is locked"):
                inbox.ping()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        inbox.ping()


@pytest.mark.parametrize("how", ["deleted", "moved", "replaced"])
def test_a_deleted_or_replaced_inbox_file_fails_writes_and_the_probe(sqlite_dsn, tmp_path, how):
    path = Path(sqlite_dsn.removeprefix("sqlite:///"))
    with open_inbox(sqlite_dsn) as inbox:
        inbox.insert_batch([event("before")])
        for suffix in ("", "-wal", "-shm"):
            moved = Path(f"{path}{suffix}")
            if how == "moved":
                moved.rename(tmp_path / f"elsewhere{suffix}")
            elif moved.exists():
                moved.unlink()
        if how == "replaced":
            with open_inbox(sqlite_dsn) as fresh:  # an empty inbox now sits at the path
                assert fresh.count() == 0
        expected = "was deleted" if how != "replaced" else "moved or replaced"
        with pytest.raises(InboxError, match=expected):
            inbox.insert_batch([event("after")])
        with pytest.raises(InboxError, match=expected):
            inbox.ping()


def test_a_full_disk_is_reported_as_such_not_as_a_failed_rollback(sqlite_dsn):
    """SQLite rolls back by itself on SQLITE_FULL; the ROLLBACK after it fails ("no transaction is
    active"). The inbox must report the disk, not the rollback."""
    with open_inbox(sqlite_dsn) as inbox:
        db = inbox._db  # type: ignore[attr-defined]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own limit: a real SQLITE_FULL
        big = NewEvent("big", "stripe", "event_driven_sync", "k", "x" * 200_000, time.time())
        with pytest.raises(InboxError) as raised:
            inbox.insert_batch([big])
        assert "database or disk is full" in str(raised.value)
        assert "rollback" not in str(raised.value)


def test_the_postgres_health_probe_fails_on_a_read_only_database(pg_inbox_dsn):
    """A read-only PostgreSQL (a replica after a failover, default_transaction_read_only) answers
    SELECT 1 and refuses every event: the probe writes, so it fails too."""
    with open_inbox(pg_inbox_dsn) as inbox, psycopg.connect(pg_inbox_dsn, autocommit=True) as admin:
        inbox.ping()
        database = admin.execute("SELECT current_database()").fetchone()[0]
        admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        try:
            admin.execute(  # the inbox reconnects, and finds the database read-only
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            with pytest.raises(InboxError):
                inbox.ping()  # its connection was cut
            assert inbox.read_after("event_driven_sync", None) == []  # reads still work
            with pytest.raises(InboxError, match="read-only transaction"):
                inbox.ping()
            with pytest.raises(InboxError, match="read-only transaction"):
                inbox.insert_batch([event("evt_on_replica")])
        finally:
            admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
