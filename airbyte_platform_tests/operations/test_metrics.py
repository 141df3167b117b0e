"""The Prometheus exporter as it runs in production: its own process on a loopback port, scraped
over HTTP after real runs, its text parsed with prometheus_client's parser."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import requests
from dagster._core.events import DagsterEventType
from prometheus_client.parser import text_string_to_metric_families

from airbyte_platform.events.cdc.local_source import ensure_local_cdc_source, write_rows
from airbyte_platform.events.inbox import NewEvent, open_inbox
from airbyte_platform.events.inbox_dsn import inbox_dsn_for
from airbyte_platform.events.routes import EVENT_DRIVEN_SYNC
from airbyte_platform.operations.notifications.sensors import FAILURE_SENSOR, build_notification_sensors
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.operations.loopback import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} samples"
    return matches[0]


@pytest.fixture
def cdc_source(platform_homes: Path) -> str:
    uri = ensure_local_cdc_source(platform_homes / "cdc" / "postgres", "airbyte_slot")
    with psycopg.connect(uri, autocommit=True) as connection:
        write_rows(connection, 500)  # WAL nobody consumes: the slot falls behind
    return uri


@pytest.fixture
def exporter(finished_runs, cdc_source: str) -> Iterator[str]:
    instance, home, _, _ = finished_runs
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": instance.root_directory,
        "AIRBYTE_PLATFORM_HOME": str(home),
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": str(port),
        "CDC_SOURCE_DSN": cdc_source,
        "CDC_MAX_LAG_SECONDS": "120",
    }
    process = subprocess.Popen([sys.executable, "-m", "airbyte_platform.operations.metrics"], env=env)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(600):  # up to ~60 s on a loaded machine; a bound, not a timing assertion
            if process.poll() is not None:
                pytest.fail(f"the exporter exited with {process.returncode}")
            try:
                requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _fail_email_notification(instance: dg.DagsterInstance, run_id: str, home: Path, monkeypatch) -> None:
    """Evaluate the failure sensor with a mail server that is down: the outcome lands on the run."""
    settings = load_settings(
        {
            "AIRBYTE_PLATFORM_HOME": str(home),
            "NOTIFY_EMAIL_TO": "data-team@example.com",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(free_port()),
            "NOTIFY_ATTEMPTS": "1",
        }
    )
    run = instance.get_run_by_id(run_id)
    event = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR,
        dagster_event=event.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    sensors = {s.name: s for s in build_notification_sensors(settings, sleep=lambda _: None)}
    sensors[FAILURE_SENSOR](context)


def test_metrics_show_the_runs_that_just_happened(finished_runs, exporter, monkeypatch):
    instance, home, ok_run, failed_run = finished_runs
    now = time.time()
    # The local inbox under the home, where the exporter (no WEBHOOK_INBOX_DSN) also reads.
    with open_inbox(inbox_dsn_for(load_settings({"AIRBYTE_PLATFORM_HOME": str(home)}))) as inbox:
        inbox.insert_batch(
            [
                NewEvent(f"evt_{i}", "stripe", EVENT_DRIVEN_SYNC, "charge.succeeded", "{}", now - age)
                for i, age in enumerate((600, 300, 10))
            ]
        )
    _fail_email_notification(instance, failed_run, home, monkeypatch)

    samples = _samples(requests.get(exporter, timeout=60).text)

    for source in ("assets", "checks", "runs", "inbox", "cdc"):
        assert _value(samples, "airbyte_platform_exporter_source_up", source=source) == 1.0, source
    # Figures of the latest sync, as the failed run recorded them in the event log.
    for record in instance.get_records_for_run(
        failed_run, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        materialization = record.event_log_entry.dagster_event.step_materialization_data.materialization
        asset = materialization.asset_key.to_user_string()
        stream = asset.rsplit("/", 1)[1]
        labels = {"asset": asset, "connection": "stripe_to_s3", "stream": stream}
        assert (
            _value(samples, "airbyte_platform_sync_records", **labels)
            == materialization.metadata["records_synced"].value
        )
        assert (
            _value(samples, "airbyte_platform_sync_bytes", **labels)
            == materialization.metadata["bytes_synced"].value
        )
        assert _value(
            samples, "airbyte_platform_asset_last_materialization_timestamp_seconds", asset=asset
        ) == pytest.approx(record.event_log_entry.timestamp)
    assert (
        _value(
            samples, "airbyte_platform_asset_check_passed", asset="lake/stripe/charges", check="min_records"
        )
        == 0.0
    )
    job = instance.get_run_by_id(ok_run).job_name
    assert _value(samples, "airbyte_platform_runs_total", dagster_job=job, status="SUCCESS") == 1.0
    assert _value(samples, "airbyte_platform_runs_total", dagster_job=job, status="FAILURE") == 1.0
    assert _value(samples, "airbyte_platform_runs_in_status", status="QUEUED") == 0.0
    assert _value(samples, "airbyte_platform_notifications_total", channel="email", outcome="failed") == 1.0
    # The inbox: no sensor has read the route yet, so every stored event is backlog.
    assert _value(samples, "airbyte_platform_webhook_inbox_backlog", route=EVENT_DRIVEN_SYNC) == 3.0
    assert _value(samples, "airbyte_platform_webhook_events_stored", route=EVENT_DRIVEN_SYNC) == 3.0
    assert (
        _value(
            samples, "airbyte_platform_webhook_inbox_oldest_unprocessed_age_seconds", route=EVENT_DRIVEN_SYNC
        )
        >= 600
    )
    # CDC: the slot has not confirmed the WAL written since it was created.
    assert _value(samples, "airbyte_platform_cdc_lag_bytes", slot="airbyte_slot") > 0
    assert _value(samples, "airbyte_platform_cdc_max_lag_seconds", slot="airbyte_slot") == 120.0


def test_an_unreachable_source_drops_its_own_series_only(finished_runs):
    from prometheus_client import CollectorRegistry, generate_latest

    from airbyte_platform.operations.metrics.collector import PlatformCollector
    from airbyte_platform.settings import MetricsSettings

    instance = finished_runs[0]

    def broken_inbox():
        raise OSError("connection refused")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(instance, MetricsSettings(), open_inbox=broken_inbox))
    samples = _samples(generate_latest(registry).decode())
    assert _value(samples, "airbyte_platform_exporter_source_up", source="inbox") == 0.0
    assert _value(samples, "airbyte_platform_exporter_source_up", source="runs") == 1.0
    assert not [name for name, _ in samples if name.startswith("airbyte_platform_webhook_")]


def test_a_crashed_sync_marks_its_streams_failing_until_the_next_success(platform_homes, instance):
    """Dagster OSS stores no asset-failure events: the failure is read from the planned
    materialization of a run that failed."""
    from prometheus_client import CollectorRegistry, generate_latest

    from airbyte_platform.operations.metrics.collector import PlatformCollector
    from airbyte_platform.settings import MetricsSettings
    from airbyte_platform_tests.operations.conftest import lake_sync_run, new_home

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(instance, MetricsSettings()))

    def failing() -> dict[str, float]:
        samples = _samples(generate_latest(registry).decode())
        return {
            dict(labels)["asset"]: value
            for (name, labels), value in samples.items()
            if name == "airbyte_platform_asset_materialization_failing"
        }

    # A fresh home per sync: a second incremental sync of the same lake reads nothing new.
    assert lake_sync_run(new_home(platform_homes), instance).success
    assert set(failing().values()) == {0.0} and "lake/stripe/charges" in failing()
    crashed = lake_sync_run(new_home(platform_homes), instance, fail_after=50)
    assert not crashed.success
    assert failing()["lake/stripe/charges"] == 1.0
    assert set(failing().values()) == {1.0}  # every stream of the connection: the sync wrote none
    samples = _samples(generate_latest(registry).decode())
    assert _value(
        samples, "airbyte_platform_asset_last_failure_timestamp_seconds", asset="lake/stripe/charges"
    ) == pytest.approx(instance.get_run_record_by_id(crashed.run_id).end_time)
    assert lake_sync_run(new_home(platform_homes), instance).success
    assert set(failing().values()) == {0.0}
