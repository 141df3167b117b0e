"""Airbyte notifications: confirmed through a loopback Airbyte API before anything is reported."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from airbyte_platform.events.airbyte_jobs import AirbyteJobApiResource
from airbyte_platform.events.inbox import NewEvent
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.sensors.airbyte_notifications import build_airbyte_notification_sensor

from .conftest import airbyte_notification
from .sensor_harness import connection_keys, materialize_now, position_after, start_run_of, store, tick

HUBSPOT_KEYS = connection_keys("hubspot_to_postgres")


def notification_event(
    job_id: int, connection_id: str = "hubspot_to_postgres", success: bool = True, **extra
) -> NewEvent:
    return NewEvent(
        event_id=f"airbyte-job-{job_id}",
        source="airbyte",
        route="airbyte_notifications",
        kind="sync.succeeded" if success else "sync.failed",
        payload=json.dumps(airbyte_notification(job_id, connection_id, success, **extra)),
        received_at=time.time(),
    )


@pytest.fixture
def sensor(settings):
    return build_airbyte_notification_sensor(settings, dg.DefaultSensorStatus.RUNNING)


@pytest.fixture
def resources(pg_inbox_dsn, fake_airbyte_api):
    return {
        "webhook_inbox": WebhookInboxResource(dsn=pg_inbox_dsn),
        "airbyte_job_api": AirbyteJobApiResource(base_url=fake_airbyte_api.base_url, timeout_seconds=3),
    }


def test_confirmed_success_materializes_every_stream_with_job_and_rows(
    sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api
):
    fake_airbyte_api.add_job(501, "hubspot_to_postgres", rows=4321)
    store(pg_inbox_dsn, [notification_event(501)])
    result = tick(sensor, instance, resources)
    assert fake_airbyte_api.calls == ["/api/public/v1/jobs/501"]
    assert [e.asset_key for e in result.asset_events] == HUBSPOT_KEYS
    assert all(isinstance(e, dg.AssetMaterialization) for e in result.asset_events)
    metadata = result.asset_events[0].metadata
    assert metadata["airbyte/job_id"].value == 501
    assert metadata["airbyte/job_rows_synced"].value == 4321
    assert metadata["airbyte/records_committed"].value == 1234
    assert json.loads(result.cursor) == {
        "pending": [],
        "position": position_after(pg_inbox_dsn, "airbyte-job-501"),
    }


def test_confirmed_failure_is_observed_with_the_error(
    sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api
):
    fake_airbyte_api.add_job(502, "hubspot_to_postgres", status="failed")
    store(pg_inbox_dsn, [notification_event(502, success=False, errorMessage="source timed out")])
    events = tick(sensor, instance, resources).asset_events
    assert len(events) == len(HUBSPOT_KEYS) and all(isinstance(e, dg.AssetObservation) for e in events)
    assert events[0].metadata["airbyte/job_status"].value == "failed"
    assert events[0].metadata["airbyte/error"].value == "source timed out"


@pytest.mark.parametrize(
    ("api_job", "note"),
    [
        (None, "not confirmed, Airbyte has no job 503; dropped"),
        ("stripe_to_s3", "belongs to connection stripe_to_s3, not hubspot_to_postgres; dropped"),
    ],
    ids=["unknown-job", "other-connection"],
)
def test_unconfirmed_notifications_are_dropped(
    sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api, api_job, note
):
    if api_job:
        fake_airbyte_api.add_job(503, api_job)
    store(pg_inbox_dsn, [notification_event(503)])
    result = tick(sensor, instance, resources)
    assert result.asset_events == []
    assert note in result.skip_message
    assert json.loads(result.cursor)["pending"] == []


def test_unreachable_api_keeps_the_notification_pending_until_it_answers(
    sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api
):
    fake_airbyte_api.add_job(504, "hubspot_to_postgres")
    fake_airbyte_api.add_job(505, "hubspot_to_postgres")
    fake_airbyte_api.failing = True
    store(pg_inbox_dsn, [notification_event(504), notification_event(505)])
    down = tick(sensor, instance, resources)
    assert down.asset_events == []
    assert json.loads(down.cursor) == {
        "pending": ["airbyte-job-504", "airbyte-job-505"],
        "position": position_after(pg_inbox_dsn, "airbyte-job-505"),
    }
    assert len(fake_airbyte_api.calls) == 1  # the second waits without another call
    fake_airbyte_api.failing = False
    up = tick(sensor, instance, resources, cursor=down.cursor)
    assert len(up.asset_events) == 2 * len(HUBSPOT_KEYS)
    assert json.loads(up.cursor)["pending"] == []


def test_a_running_job_waits(sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api):
    fake_airbyte_api.add_job(506, "hubspot_to_postgres", status="running")
    store(pg_inbox_dsn, [notification_event(506)])
    result = tick(sensor, instance, resources)
    assert result.asset_events == [] and "still running" in result.skip_message
    assert json.loads(result.cursor)["pending"] == ["airbyte-job-506"]


def test_a_job_dagster_already_reported_is_not_reported_twice(
    sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api
):
    fake_airbyte_api.add_job(507, "hubspot_to_postgres")
    materialize_now(instance, HUBSPOT_KEYS, **{"airbyte/job_id": 507})
    store(pg_inbox_dsn, [notification_event(507)])
    result = tick(sensor, instance, resources)
    assert result.asset_events == [] and "already reported by Dagster" in result.skip_message


def test_waits_while_a_dagster_run_syncs_the_same_assets(
    sensor, instance, pg_inbox_dsn, resources, fake_airbyte_api
):
    fake_airbyte_api.add_job(508, "hubspot_to_postgres")
    run_id = start_run_of(instance, HUBSPOT_KEYS)
    store(pg_inbox_dsn, [notification_event(508)])
    result = tick(sensor, instance, resources)
    assert result.asset_events == [] and f"Dagster run {run_id} is syncing" in result.skip_message
    assert json.loads(result.cursor)["pending"] == ["airbyte-job-508"]


def test_without_an_airbyte_api_nothing_is_consumed(sensor, instance, pg_inbox_dsn):
    store(pg_inbox_dsn, [notification_event(509)])
    resources = {
        "webhook_inbox": WebhookInboxResource(dsn=pg_inbox_dsn),
        "airbyte_job_api": AirbyteJobApiResource(),
    }
    result = tick(sensor, instance, resources)
    assert "AIRBYTE_API_URL is not set" in result.skip_message and result.cursor is None
