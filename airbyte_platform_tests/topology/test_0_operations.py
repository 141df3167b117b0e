"""Operating the platform end to end, in one `make dev` topology started for this module:

(a) a user turns the automation and notification sensors on in the UI; a signed Stripe webhook
    makes the daemon's sensor sync Stripe → PostgreSQL, a trigger webhook syncs Stripe → lake, and
    the automation sensor then materializes `snowflake/revenue_analytics` and `processed/stripe`
    in runs it launched itself (no job definition names them);
(b) a sync that fails for real (the connector crashes after 50 records) sends the failure email,
    through a real SMTP server on loopback, naming the connection, the run, the job and the reason;
(c) the exporter that `make dev` started shows on /metrics the figures of those very runs.

First in the topology group (file order), so its topology is stopped before the session's one starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import dagster as dg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.events.sensors.stripe_sync import SENSOR_NAME as STRIPE_SENSOR
from airbyte_platform.events.stripe_signature import stripe_signature_header
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG
from airbyte_platform.operations.notifications.sensors import FAILURE_SENSOR, SUCCESS_SENSOR
from airbyte_platform.transforms.automation import SENSOR_NAME as AUTOMATION_SENSOR
from airbyte_platform_tests.operations.loopback import SmtpServer
from airbyte_platform_tests.topology.process import (
    STRIPE_SECRET,
    TRIGGER_TOKEN,
    Topology,
    running_topology,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]

TEAM = "data-team@example.com"
FAILING_CONNECTION = "stripe_to_s3"
FAIL_AFTER = 50  # the sample source crashes after this many records, like a broken connector
# The lake is already synced by then (incremental): a larger source has new records to crash on.
CRASHING_SOURCE = {"records": 4000, "fail_after": FAIL_AFTER}
REVENUE = dg.AssetKey(["snowflake", "revenue_analytics"])
PROCESSED = dg.AssetKey(["processed", "stripe"])
AUTOMATION_TAG = "dagster/from_automation_condition"
# Bounds, not timing assertions: sensors tick every 30 s, and each run is a process importing the
# code location on a 2-core machine shared with the rest of the suite.
SYNC_WAIT = 900.0
AUTOMATION_WAIT = 600.0
EMAIL_WAIT = 180.0


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def topology(smtp: SmtpServer) -> Iterator[Topology]:
    env = {
        "NOTIFY_EMAIL_TO": TEAM,
        "NOTIFY_ON": "failure",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
    }
    with running_topology(env) as running:
        yield running


@pytest.fixture(scope="module")
def instance(topology: Topology) -> Iterator[dg.DagsterInstance]:
    with topology.instance() as opened:
        yield opened


def _wait(what: str, check: Any, timeout: float, topology: Topology) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(2.0)
    raise AssertionError(f"{what} not within {timeout:.0f} s\n{topology.log_tail()}")


def _post_stripe(topology: Topology, event_id: str, secret: str = STRIPE_SECRET) -> requests.Response:
    body = json.dumps({"id": event_id, "object": "event", "type": "charge.succeeded", "data": {"object": {}}})
    headers = {
        "Stripe-Signature": stripe_signature_header(body.encode(), secret),
        "Content-Type": "application/json",
    }
    return requests.post(f"{topology.receiver_url}/webhooks/stripe", data=body, headers=headers, timeout=30)


def _text(message: Message) -> str:
    """The plain-text body, decoded (quoted-printable or base64 when it is not ASCII)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


def _materialization_run(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.DagsterRun | None:
    event = instance.get_latest_materialization_event(key)
    return None if event is None else instance.get_run_by_id(event.run_id)


def _stream_keys(connection: str) -> list[dg.AssetKey]:
    spec = connection_named(connection)
    return [spec.asset_key(stream) for stream in spec.streams]


def _a_webhook_sync_refreshes_the_transforms_through_automation(
    topology: Topology, instance: dg.DagsterInstance
) -> None:
    # Locally the automation is off until someone turns it on, like the schedules: the user turns it (and
    # the run notifications) on in the UI. (Turned on only after syncs landed, it does not react to them:
    # its conditions look at updates since its previous tick.)
    assert topology.ui.sensor_status(AUTOMATION_SENSOR) == "STOPPED"
    for sensor in (AUTOMATION_SENSOR, FAILURE_SENSOR, SUCCESS_SENSOR):
        if topology.ui.sensor_status(sensor) != "RUNNING":
            topology.ui.start_sensor(sensor)
        assert topology.ui.sensor_status(sensor) == "RUNNING"

    assert _post_stripe(topology, "evt_operations_1").status_code == 200
    assert _post_stripe(topology, "evt_operations_1").status_code == 200  # redelivered: a duplicate
    assert _post_stripe(topology, "evt_forged", secret="whsec_forged").status_code == 400
    trigger = requests.post(
        f"{topology.receiver_url}/webhooks/trigger",
        json={"job": "airbyte_event_driven_sync", "run_config": {"connection_id": FAILING_CONNECTION}},
        headers={"Authorization": f"Bearer {TRIGGER_TOKEN}"},
        timeout=30,
    )
    assert trigger.status_code == 202, trigger.text

    # The daemon's sensors launch the two syncs.
    stripe_runs = _wait(
        "a run of event_driven_sync",
        lambda: topology.ui.runs_tagged("dagster/sensor_name", STRIPE_SENSOR),
        SYNC_WAIT,
        topology,
    )
    lake_runs = _wait(
        "a run of airbyte_event_driven_sync",
        lambda: topology.ui.runs_tagged("airflow/dag_id", "airbyte_event_driven_sync"),
        SYNC_WAIT,
        topology,
    )
    sync_ids = [stripe_runs[0]["runId"], lake_runs[0]["runId"]]
    assert topology.ui.wait(sync_ids, timeout=SYNC_WAIT) == dict.fromkeys(sync_ids, "SUCCESS"), (
        topology.log_tail()
    )
    for key in _stream_keys("stripe_to_postgres"):
        run = _materialization_run(instance, key)
        assert run is not None and run.run_id == stripe_runs[0]["runId"], key

    # Then the automation sensor materializes the transforms downstream, in runs of its own.
    def automated(key: dg.AssetKey) -> dg.DagsterRun | None:
        run = _materialization_run(instance, key)
        return run if run is not None and run.tags.get(AUTOMATION_TAG) == "true" else None

    for key in (REVENUE, PROCESSED):
        run = _wait(f"{key.to_user_string()} materialized by the automation", lambda k=key: automated(k),
                    AUTOMATION_WAIT, topology)  # fmt: skip
        assert run.job_name == "__ASSET_JOB", run.job_name  # an implicit asset job, named by no definition
        assert run.tags.get("dagster/sensor_name") == AUTOMATION_SENSOR
        assert SYNC_RUN_TAG not in run.tags  # syncs nothing: the run queue's sync limit leaves it alone
        assert run.run_id not in sync_ids
        assert topology.ui.wait([run.run_id], timeout=SYNC_WAIT)[run.run_id] == "SUCCESS", topology.log_tail()


def _b_a_failed_sync_emails_the_team(topology: Topology, smtp: SmtpServer) -> None:
    # The connector of the lake connection crashes after FAIL_AFTER new records, launched as the
    # UI's launchpad would run it with this resource config.
    run_config = {
        "resources": {
            "airbyte": {
                "config": {
                    "connectors_dir": str(topology.home / "connectors"),
                    "source_config_overrides": {FAILING_CONNECTION: CRASHING_SOURCE},
                }
            }
        }
    }
    run_id = topology.ui.launch("stripe_datalake_pipeline", run_config)
    assert topology.ui.wait([run_id], timeout=SYNC_WAIT)[run_id] == "FAILURE", topology.log_tail()

    def failure_mail() -> tuple[list[str], str, str] | None:
        for to, message in smtp.messages:
            if run_id in _text(message):
                return to, str(make_header(decode_header(message["Subject"]))), _text(message)
        return None

    recipients, subject, text = _wait("the failure email", failure_mail, EMAIL_WAIT, topology)
    assert recipients == [TEAM]
    assert subject == f"Airbyte sync failed: {FAILING_CONNECTION} (job stripe_datalake_pipeline)"
    assert f"Run {run_id} of job stripe_datalake_pipeline failed" in text
    assert f"Connections: {FAILING_CONNECTION}" in text
    assert f"fail_after={FAIL_AFTER} records reached" in text, text  # the connector's own words
    assert STRIPE_SECRET not in text and TRIGGER_TOKEN not in text


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _value(samples: Samples, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} samples"
    return matches[0]


def _c_metrics_show_the_runs_that_just_happened(topology: Topology, instance: dg.DagsterInstance) -> None:
    text = requests.get(topology.metrics_url, timeout=120).text
    samples: Samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    for source in ("assets", "checks", "runs", "inbox"):
        assert _value(samples, "airbyte_platform_exporter_source_up", source=source) == 1.0, source

    # Records of each Stripe stream, as the sensor-launched syncs recorded them.
    for connection in ("stripe_to_postgres", FAILING_CONNECTION):
        for key in _stream_keys(connection):
            event = instance.get_latest_materialization_event(key)
            assert event is not None and event.asset_materialization is not None
            records = event.asset_materialization.metadata["records_synced"].value
            assert isinstance(records, int) and records > 0
            asset = key.to_user_string()
            labels = {"asset": asset, "connection": connection}
            assert _value(samples, "airbyte_platform_sync_records", **labels) == records
            # The lake streams failed after that success; the PostgreSQL ones did not.
            failing = 1.0 if connection == FAILING_CONNECTION else 0.0
            assert _value(samples, "airbyte_platform_asset_materialization_failing", **labels) == failing

    def runs(job: str, status: str) -> float:
        return _value(samples, "airbyte_platform_runs_total", dagster_job=job, status=status)

    assert runs("stripe_datalake_pipeline", "FAILURE") == 1.0
    assert runs("event_driven_sync", "SUCCESS") == 1.0
    assert runs("airbyte_event_driven_sync", "SUCCESS") == 1.0
    automation_runs = instance.get_runs_count(dg.RunsFilter(tags={AUTOMATION_TAG: "true"}))
    assert runs("__ASSET_JOB", "SUCCESS") + runs("__ASSET_JOB", "FAILURE") == automation_runs >= 1
    assert _value(samples, "airbyte_platform_notifications_total", channel="email", outcome="sent") == 1.0

    def requests_counted(source: str, outcome: str, reason: str = "") -> float:
        return _value(
            samples, "airbyte_platform_webhook_requests_total", source=source, outcome=outcome, reason=reason
        )

    assert requests_counted("stripe", "accepted") == 1.0
    assert requests_counted("stripe", "duplicate") == 1.0
    assert requests_counted("stripe", "rejected", "bad_signature") == 1.0
    assert requests_counted("trigger", "accepted") == 1.0
    assert _value(samples, "airbyte_platform_webhook_inbox_backlog", route="event_driven_sync") == 0.0


# One test, three phases in order on one topology: each phase builds on what the previous one ran, and
# pytest-xdist must never split them across workers (it did with three tests: two topologies, and the
# metrics phase saw none of the runs).
@pytest.mark.timeout(2700)
def test_webhook_automation_failure_email_and_metrics_on_one_topology(
    topology: Topology, instance: dg.DagsterInstance, smtp: SmtpServer
) -> None:
    _a_webhook_sync_refreshes_the_transforms_through_automation(topology, instance)
    _b_a_failed_sync_emails_the_team(topology, smtp)
    _c_metrics_show_the_runs_that_just_happened(topology, instance)
