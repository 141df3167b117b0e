"""The inbox sensors with pinned cursors: run keys, asset selections, the 6-hour rule, redelivery."""

from __future__ import annotations

import datetime as dt
import json
import time

import dagster as dg
import pytest

from airbyte_platform.events.inbox import open_inbox
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.sensors.stripe_sync import build_event_driven_sync_sensor
from airbyte_platform.events.sensors.triggers import build_trigger_sensor

from .sensor_harness import (
    connection_keys,
    materialize_now,
    position_after,
    start_run_of,
    store,
    stripe,
    tick,
    trigger,
)

RUNNING = dg.DefaultSensorStatus.RUNNING
STRIPE_KEYS = connection_keys("stripe_to_postgres")


@pytest.fixture
def resources(pg_inbox_dsn):
    return {"webhook_inbox": WebhookInboxResource(dsn=pg_inbox_dsn)}


def test_each_trigger_launches_its_connection_assets_once(settings, instance, pg_inbox_dsn, resources):
    sensor = build_trigger_sensor("airbyte_event_driven_sync", settings, RUNNING)
    store(
        pg_inbox_dsn,
        [
            trigger("a", "airbyte_event_driven_sync", {"connection_id": "hubspot_to_postgres"}),
            trigger("b", "airbyte_event_driven_sync", {"connection_id": "stripe_to_s3"}),
            trigger("cdc", "postgres_cdc_replication"),  # another route: not this sensor's
        ],
    )
    first = tick(sensor, instance, resources)
    assert [r.run_key for r in first.run_requests] == ["trigger-a", "trigger-b"]
    hubspot = first.run_requests[0]
    assert hubspot.job_name == "airbyte_event_driven_sync"
    assert hubspot.run_config == {"connection_id": "hubspot_to_postgres"}  # the launchpad's config
    assert hubspot.tags["airbyte/connection"] == "hubspot_to_postgres"
    assert hubspot.tags["airbyte_platform/event_id"] == "trigger-a"

    # The cursor moved past both: the next tick has nothing; a redelivery is a duplicate in the inbox.
    store(pg_inbox_dsn, [trigger("a", "airbyte_event_driven_sync", {"connection_id": "hubspot_to_postgres"})])
    again = tick(sensor, instance, resources, cursor=first.cursor)
    assert again.run_requests == [] and "no new airbyte_event_driven_sync events" in again.skip_message
    assert again.cursor in (None, first.cursor)


def test_a_pinned_cursor_resumes_after_its_event(settings, instance, pg_inbox_dsn, resources):
    sensor = build_trigger_sensor("airbyte_event_driven_sync", settings, RUNNING)
    connections = ["stripe_to_postgres", "hubspot_to_postgres", "stripe_to_s3", "salesforce_to_postgres"]
    events = [
        trigger(str(i), "airbyte_event_driven_sync", {"connection_id": connection})
        for i, connection in enumerate(connections)
    ]
    store(pg_inbox_dsn, events)
    with open_inbox(pg_inbox_dsn) as inbox:
        positions = [e.position for e in inbox.read_after("airbyte_event_driven_sync", None)]
    every = tick(sensor, instance, resources)
    assert json.loads(every.cursor) == {"position": positions[3]}  # just after the last event read
    pinned = tick(sensor, instance, resources, cursor=json.dumps({"position": positions[1]}))
    assert [r.run_key for r in pinned.run_requests] == ["trigger-2", "trigger-3"]
    assert json.loads(pinned.cursor) == {"position": positions[3]}


def test_trigger_that_settings_no_longer_accept_is_consumed_without_a_run(
    settings, instance, pg_inbox_dsn, resources
):
    sensor = build_trigger_sensor("airbyte_event_driven_sync", settings, RUNNING)
    store(
        pg_inbox_dsn, [trigger("gone", "airbyte_event_driven_sync", {"connection_id": "retired_connection"})]
    )
    result = tick(sensor, instance, resources)
    assert result.run_requests == []
    assert "unknown connection_id 'retired_connection'" in result.skip_message
    assert json.loads(result.cursor)["position"] == position_after(pg_inbox_dsn, "trigger-gone")


def test_cdc_trigger_runs_the_checks_job(settings, instance, pg_inbox_dsn, resources):
    sensor = build_trigger_sensor("postgres_cdc_replication", settings, RUNNING)
    store(pg_inbox_dsn, [trigger("now", "postgres_cdc_replication")])
    [request] = tick(sensor, instance, resources).run_requests
    assert (request.job_name, request.run_key, request.asset_selection) == (
        "postgres_cdc_replication",
        "trigger-now",
        None,
    )


def test_stripe_burst_with_no_previous_sync_launches_one_run(instance, pg_inbox_dsn, resources):
    sensor = build_event_driven_sync_sensor(RUNNING)
    store(pg_inbox_dsn, [stripe(f"evt_{i}") for i in range(5)])
    result = tick(sensor, instance, resources)
    [request] = result.run_requests
    assert (request.job_name, request.run_key) == ("event_driven_sync", "evt_0")
    assert request.tags["airbyte_platform/event_source"] == "stripe"
    assert json.loads(result.cursor) == {"position": position_after(pg_inbox_dsn, "evt_4")}


def test_six_hour_rule_reads_the_last_materialization(instance, pg_inbox_dsn, resources):
    materialize_now(instance, STRIPE_KEYS)
    store(pg_inbox_dsn, [stripe("evt_recent")])
    recent = tick(build_event_driven_sync_sensor(RUNNING), instance, resources)
    assert recent.run_requests == []
    assert "last sync 0 min ago, within 6.0 h" in recent.skip_message

    # The same event seen 6 h 1 min later (a pinned cursor re-reads it): the sync is due.
    later = build_event_driven_sync_sensor(RUNNING, clock=lambda: time.time() + 6 * 3600 + 60)
    due = tick(later, instance, resources)
    assert [r.run_key for r in due.run_requests] == ["evt_recent"]


def test_a_connection_never_fully_synced_is_due(instance, pg_inbox_dsn, resources):
    materialize_now(instance, STRIPE_KEYS[:-1])  # one stream never materialized
    store(pg_inbox_dsn, [stripe("evt_partial")])
    assert len(tick(build_event_driven_sync_sensor(RUNNING), instance, resources).run_requests) == 1


def test_no_second_sync_while_one_is_in_progress(instance, pg_inbox_dsn, resources):
    run_id = start_run_of(instance, STRIPE_KEYS)
    store(pg_inbox_dsn, [stripe("evt_during")])
    result = tick(build_event_driven_sync_sensor(RUNNING), instance, resources)
    assert result.run_requests == []
    assert f"sync run {run_id} is in progress" in result.skip_message


def test_zero_interval_syncs_on_every_event(instance, pg_inbox_dsn, resources):
    sensor = build_event_driven_sync_sensor(RUNNING, sync_interval=dt.timedelta(0))
    store(pg_inbox_dsn, [stripe(f"evt_{i}") for i in range(3)])
    assert [r.run_key for r in tick(sensor, instance, resources).run_requests] == ["evt_0", "evt_1", "evt_2"]


def test_an_unreadable_inbox_skips_with_the_reason(instance):
    sensor = build_event_driven_sync_sensor(RUNNING)
    result = tick(
        sensor, instance, {"webhook_inbox": WebhookInboxResource(dsn="postgresql://nobody@127.0.0.1:1/x")}
    )
    assert result.run_requests == []
    assert "webhook inbox unreadable" in result.skip_message and "WEBHOOK_INBOX_DSN" in result.skip_message


def test_six_hour_rule_boundary_is_the_dags_strictly_more_than_21600_seconds(
    instance, pg_inbox_dsn, resources
):
    # should_sync in the DAG: `(now - last_sync).total_seconds() > 21600`.
    materialize_now(instance, STRIPE_KEYS)
    synced_at = min(e.timestamp for e in instance.get_latest_materialization_events(STRIPE_KEYS).values())
    store(pg_inbox_dsn, [stripe("evt_boundary")])
    at_six_hours = build_event_driven_sync_sensor(RUNNING, clock=lambda: synced_at + 21600)
    assert tick(at_six_hours, instance, resources).run_requests == []
    just_after = build_event_driven_sync_sensor(RUNNING, clock=lambda: synced_at + 21600.5)
    assert [r.run_key for r in tick(just_after, instance, resources).run_requests] == ["evt_boundary"]


def test_retention_prunes_only_what_the_sensor_has_committed_reading(instance, pg_inbox_dsn, resources):
    """The sensor acknowledges the cursor it starts from (committed by the previous tick)."""
    sensor = build_event_driven_sync_sensor(RUNNING, sync_interval=dt.timedelta(0))
    store(pg_inbox_dsn, [stripe(f"evt_old_{i}", received_at=1.0) for i in range(3)])
    first = tick(sensor, instance, resources)
    assert len(first.run_requests) == 3
    store(pg_inbox_dsn, [stripe(f"evt_new_{i}", received_at=1.0) for i in range(2)])
    with open_inbox(pg_inbox_dsn) as inbox:
        assert inbox.prune(time.time()) == 0  # read, but the cursor of that tick is not known committed
    second = tick(sensor, instance, resources, cursor=first.cursor)
    assert [r.run_key for r in second.run_requests] == ["evt_new_0", "evt_new_1"]
    with open_inbox(pg_inbox_dsn) as inbox:
        assert inbox.prune(time.time()) == 3
        assert inbox.event_ids() == ["evt_new_0", "evt_new_1"]
