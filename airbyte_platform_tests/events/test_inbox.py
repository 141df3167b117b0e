"""The durable inbox, on SQLite (local) and a real PostgreSQL (prod): same interface, same guarantees."""

from __future__ import annotations

import time

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
