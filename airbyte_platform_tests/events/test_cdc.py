"""CDC slot health and lag on a real PostgreSQL 16 (pgserver) with wal_level=logical and pgoutput slots.

Each test works on its own slot, so writes and consumption in one test do not move another's lag.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest
from pgserver.postgres_server import POSTGRES_BIN_PATH

from airbyte_platform.events.cdc import (
    CdcSourceResource,
    build_cdc_checks,
    build_cdc_lag_sensor,
    cdc_asset_keys,
)
from airbyte_platform.events.cdc.assessment import assess_health, assess_lag
from airbyte_platform.events.cdc.checks import evaluate_slot
from airbyte_platform.events.cdc.local_source import PUBLICATION, consume, ensure_local_cdc_source, write_rows

from .sensor_harness import tick

pytestmark = pytest.mark.xdist_group("events_pg")
KIB = 1024


@pytest.fixture
def pg(cdc_source_uri: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(cdc_source_uri, autocommit=True) as connection:
        yield connection


@pytest.fixture
def slot(pg: psycopg.Connection) -> Iterator[str]:
    """A fresh pgoutput slot (and an empty heartbeat table), dropped afterwards."""
    name = f"slot_{uuid.uuid4().hex[:10]}"
    pg.execute("DELETE FROM public.airbyte_cdc_heartbeat")
    pg.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
    yield name
    pg.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", (name,)
    )


def source(uri: str, slot: str, write_heartbeat: bool = False, **limits: int) -> CdcSourceResource:
    return CdcSourceResource(dsn=uri, slot_name=slot, write_heartbeat=write_heartbeat, **limits)


def test_local_source_has_logical_wal_a_publication_a_slot_and_a_heartbeat_table(pg_root, cdc_source_uri, pg):
    assert ensure_local_cdc_source(pg_root / "cdc", "airbyte_slot") == cdc_source_uri  # idempotent
    assert pg.execute("SHOW wal_level").fetchone() == ("logical",)
    assert pg.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,)).fetchone()
    assert pg.execute(
        "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'airbyte_slot'"
    ).fetchone() == ("pgoutput",)
    assert pg.execute("SELECT to_regclass('public.airbyte_cdc_heartbeat') IS NOT NULL").fetchone() == (True,)


def test_writes_move_the_lag_up_and_consumption_brings_it_down(cdc_source_uri, pg, slot):
    resource = source(cdc_source_uri, slot, max_lag_bytes=64 * KIB)
    start = resource.read_slot().slot
    assert start is not None and start.bytes_behind is not None and start.bytes_behind < 64 * KIB

    write_rows(pg, 2000)
    behind = resource.read_slot()
    assert behind.slot is not None and behind.slot.bytes_behind > 64 * KIB
    lag = assess_lag(behind, max_lag_seconds=300, max_lag_bytes=64 * KIB, last_sync_at=None, now=time.time())
    assert not lag.passed and lag.code == "lag_bytes"
    assert lag.message.startswith(f"replication slot {slot!r} is ")
    assert "KiB of WAL behind (limit 64.0 KiB, CDC_MAX_LAG_BYTES)" in lag.message

    assert consume(pg, slot) > 2000  # BEGIN/RELATION/INSERT.../COMMIT messages through pgoutput
    caught_up = resource.read_slot()
    assert caught_up.slot is not None and caught_up.slot.bytes_behind < 64 * KIB
    assert assess_lag(
        caught_up, max_lag_seconds=300, max_lag_bytes=64 * KIB, last_sync_at=None, now=time.time()
    ).passed


def test_seconds_behind_come_from_the_newest_consumed_heartbeat(cdc_source_uri, pg, slot):
    resource = source(cdc_source_uri, slot, write_heartbeat=True)
    pg.execute("INSERT INTO public.airbyte_cdc_heartbeat (written_at) VALUES (now() - interval '10 minutes')")
    consume(pg, slot)  # the consumer passes that heartbeat ...
    write_rows(pg, 10)  # ... and nothing since
    reading = resource.read_slot()
    assert reading.caught_up_heartbeat_age == pytest.approx(600, abs=30)
    lag = assess_lag(reading, max_lag_seconds=300, max_lag_bytes=2**30, last_sync_at=None, now=time.time())
    assert not lag.passed and lag.code == "lag_seconds"
    assert (
        f"replication slot {slot!r} is 6" in lag.message
        and "s behind (limit 300 s, CDC_MAX_LAG_SECONDS)" in lag.message
    )
    assert "(heartbeat)" in lag.message

    # A fresh heartbeat the consumer passes brings it back under the limit.
    assert resource.heartbeat_and_read()[0] == "written"
    consume(pg, slot)
    assert resource.read_slot().caught_up_heartbeat_age < 60


def test_the_sensor_writes_nothing_into_the_source_unless_opted_in(cdc_source_uri, pg, slot):
    """The application database is not ours: without CDC_WRITE_HEARTBEAT the reading writes no row, and
    a heartbeat written on the source side (by its own scheduler) still gives the seconds behind."""
    resource = source(cdc_source_uri, slot)
    note, _ = resource.heartbeat_and_read()
    assert note == "not written: CDC_WRITE_HEARTBEAT is off"
    assert pg.execute("SELECT count(*) FROM public.airbyte_cdc_heartbeat").fetchone() == (0,)
    pg.execute("INSERT INTO public.airbyte_cdc_heartbeat (written_at) VALUES (now() - interval '2 minutes')")
    consume(pg, slot)
    assert resource.read_slot().caught_up_heartbeat_age == pytest.approx(120, abs=30)


def test_without_heartbeats_the_last_sync_or_a_lower_bound_gives_the_time(cdc_source_uri, pg, slot):
    resource = source(cdc_source_uri, slot)
    write_rows(pg, 10)
    reading = resource.read_slot()
    now = time.time()
    by_sync = assess_lag(reading, max_lag_seconds=300, max_lag_bytes=2**30, last_sync_at=now - 900, now=now)
    assert (
        not by_sync.passed
        and "900 s behind" in by_sync.message
        and "(last successful sync)" in by_sync.message
    )
    unknown = assess_lag(reading, max_lag_seconds=300, max_lag_bytes=2**30, last_sync_at=None, now=now)
    assert unknown.passed and "time lag unknown" in unknown.message
    pg.execute("INSERT INTO public.airbyte_cdc_heartbeat (written_at) VALUES (now() - interval '20 minutes')")
    lower = assess_lag(
        resource.read_slot(), max_lag_seconds=300, max_lag_bytes=2**30, last_sync_at=None, now=now
    )
    assert not lower.passed and "is at least 1,2" in lower.message


def test_missing_slot_fails_health_naming_it_and_the_slots_present(cdc_source_uri, slot, instance):
    health, lag = evaluate_slot(source(cdc_source_uri, "no_such_slot"), instance)
    assert not health.passed and health.code == "slot_missing"
    assert "replication slot 'no_such_slot' does not exist in database 'app'" in health.message
    assert slot in health.message and "airbyte_slot" in health.message
    assert not lag.passed and lag.message.startswith(
        "cannot measure the lag: replication slot 'no_such_slot'"
    )


def test_a_physical_slot_is_not_a_cdc_slot(cdc_source_uri, pg):
    # (pgserver ships pgoutput only; another plugin's verdict is covered in test_cdc_assessment.py.)
    pg.execute("SELECT pg_create_physical_replication_slot('physical_slot')")
    try:
        physical = assess_health(source(cdc_source_uri, "physical_slot").read_slot())
        assert (physical.code, "is a physical slot" in physical.message) == ("not_logical", True)
    finally:
        pg.execute("SELECT pg_drop_replication_slot('physical_slot')")


def test_an_idle_slot_warns_and_a_streaming_consumer_makes_it_healthy(cdc_source_uri, pg, slot):
    resource = source(cdc_source_uri, slot, max_lag_bytes=64 * KIB)
    idle = assess_health(resource.read_slot())
    assert (idle.passed, idle.severity, idle.code) == (False, "WARN", "inactive")
    # A real logical-replication consumer: pg_recvlogical streaming pgoutput and confirming every second.
    consumer = subprocess.Popen(
        [str(POSTGRES_BIN_PATH / "pg_recvlogical"), "-d", cdc_source_uri, "-S", slot, "--start", "-f", "/dev/null",
         "-o", "proto_version=1", "-o", f"publication_names={PUBLICATION}", "-s", "1", "-F", "1"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while not (reading := resource.read_slot()).slot.active and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.1)
        assert assess_health(reading).passed, consumer.stderr and consumer.poll()
        write_rows(pg, 2000)
        deadline = time.monotonic() + 15  # the consumer confirms within its 1 s status interval
        while resource.read_slot().slot.bytes_behind > 64 * KIB and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.2)
        assert resource.read_slot().slot.bytes_behind <= 64 * KIB  # type: ignore[union-attr]
    finally:
        consumer.terminate()
        consumer.wait(10)


def test_an_unreachable_source_fails_the_checks_and_the_sensor_skips(instance):
    resource = CdcSourceResource(dsn="postgresql://cdc:s3cret@127.0.0.1:1/app", connect_timeout_seconds=2)
    health, lag = evaluate_slot(resource, instance)
    assert not health.passed and "CDC source database is unreachable (CDC_SOURCE_DSN)" in health.message
    assert lag == health and "s3cret" not in health.message
    result = tick(build_cdc_lag_sensor(dg.DefaultSensorStatus.RUNNING), instance, {"cdc_source": resource})
    assert result.run_requests == [] and result.cursor is None
    assert result.skip_message.startswith(
        "CDC source unreachable (CDC_SOURCE_DSN), slot 'airbyte_slot' not checked"
    )


def test_lag_sensor_launches_the_checks_when_the_state_changes(cdc_source_uri, pg, slot, instance):
    sensor = build_cdc_lag_sensor(dg.DefaultSensorStatus.RUNNING)
    resources = {"cdc_source": source(cdc_source_uri, slot, write_heartbeat=True, max_lag_bytes=64 * KIB)}
    first = tick(sensor, instance, resources)
    assert first.run_requests == [] and json.loads(first.cursor)["state"] == "ok"
    heartbeats = pg.execute("SELECT count(*) FROM public.airbyte_cdc_heartbeat").fetchone()[0]
    assert heartbeats == 1  # one written per evaluation

    write_rows(pg, 2000)
    lagging = tick(sensor, instance, resources, cursor=first.cursor)
    [request] = lagging.run_requests
    assert (
        request.job_name == "postgres_cdc_replication"
        and request.tags["airbyte_platform/cdc_state"] == "lag_bytes"
    )
    unchanged = tick(sensor, instance, resources, cursor=lagging.cursor)
    assert unchanged.run_requests == [] and unchanged.skip_message.startswith("unchanged (lag_bytes)")

    consume(pg, slot)
    recovered = tick(sensor, instance, resources, cursor=lagging.cursor)
    assert [r.tags["airbyte_platform/cdc_state"] for r in recovered.run_requests] == ["ok"]


def test_postgres_cdc_replication_job_records_both_checks_on_every_asset(cdc_source_uri, pg, slot, instance):
    """Done-when: lag beyond the threshold fails the check with the slot's name and how far behind."""
    keys = cdc_asset_keys()
    checks = build_cdc_checks()
    defs = dg.Definitions(
        assets=[dg.AssetSpec(key) for key in keys],
        asset_checks=checks,
        jobs=[
            dg.define_asset_job(
                "postgres_cdc_replication",
                selection=dg.AssetSelection.checks(*[k for c in checks for k in c.check_keys]),
            )
        ],
        resources={"cdc_source": source(cdc_source_uri, slot, max_lag_bytes=64 * KIB)},
    )
    write_rows(pg, 2000)
    result = defs.resolve_job_def("postgres_cdc_replication").execute_in_process(
        instance=instance, raise_on_error=False
    )
    evaluations = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        (key, name) for key in keys for name in ("check_cdc_health", "check_replication_lag")
    }
    lag = evaluations[(keys[0], "check_replication_lag")]
    assert not lag.passed and lag.severity == dg.AssetCheckSeverity.ERROR
    assert lag.description.startswith(f"replication slot {slot!r} is ") and "of WAL behind" in lag.description
    assert lag.metadata["bytes_behind"].value > 64 * KIB
    health = evaluations[(keys[0], "check_cdc_health")]
    assert health.severity == dg.AssetCheckSeverity.WARN and "no consumer connected" in health.description
