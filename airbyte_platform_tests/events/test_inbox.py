"""The durable inbox on a real PostgreSQL (pgserver): the one backend, locally and in prod."""

from __future__ import annotations

import time

import psycopg
import pytest

from airbyte_platform.events.inbox import InboxError, NewEvent, WriteOutcome, open_inbox


def event(event_id: str, route: str = "event_driven_sync", source: str = "stripe") -> NewEvent:
    return NewEvent(
        event_id=event_id,
        source=source,  # type: ignore[arg-type]
        route=route,
        kind="charge.succeeded",
        payload=f'{{"id": "{event_id}"}}',
        received_at=time.time(),
    )


@pytest.fixture
def dsn(pg_inbox_dsn: str) -> str:
    return pg_inbox_dsn


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


def test_a_cursor_of_the_former_sqlite_inbox_is_refused_clearly(dsn):
    with open_inbox(dsn) as inbox, pytest.raises(InboxError, match="Reset the sensor cursor"):
        inbox.read_after("event_driven_sync", "12")  # an integer: a SQLite-era sensor cursor


@pytest.mark.parametrize("refused", ["mysql://somewhere/db", "sqlite:////var/lib/inbox.sqlite3"])
def test_anything_but_postgresql_is_refused_naming_the_variable(refused):
    scheme = refused.partition(":")[0]
    with pytest.raises(
        InboxError, match=f"WEBHOOK_INBOX_DSN has scheme '{scheme}': the webhook inbox is PostgreSQL only"
    ):
        open_inbox(refused)


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


def test_the_reader_orders_transaction_ids_as_numbers_across_a_digit_boundary(pg_inbox_dsn):
    """Found by the crash test when the server's txids passed 999: sorted as text, '100' came before
    '99' while the cursor compared numbers, so a sensor read some events twice and skipped others."""
    with open_inbox(pg_inbox_dsn) as inbox, psycopg.connect(pg_inbox_dsn, autocommit=True) as db:
        db.execute(  # two committed transactions long past (ids below every running one)
            "INSERT INTO webhook_events (event_id, source, route, kind, payload, received_at, txid) "
            "VALUES ('in_99', 'stripe', 'event_driven_sync', 'k', '{}', 0, '99'::xid8), "
            "('in_100', 'stripe', 'event_driven_sync', 'k', '{}', 0, '100'::xid8)"
        )
        read = inbox.read_after("event_driven_sync", None)
        assert [(e.event_id, e.position) for e in read] == [("in_99", "99:1"), ("in_100", "100:2")]
        assert [e.event_id for e in inbox.read_after("event_driven_sync", "99:1")] == ["in_100"]
        assert inbox.read_after("event_driven_sync", "100:2") == []
        assert [e.event_id for e in inbox.fetch(["in_100", "in_99"])] == ["in_99", "in_100"]


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
