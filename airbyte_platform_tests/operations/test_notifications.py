"""Run notifications, evaluated with Dagster's sensor test API on real runs in a real instance,
delivered to a real SMTP server and to loopback HTTP servers standing in for Slack and a webhook."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from airbyte_platform.operations.notifications.delivery import TAG_PREFIX
from airbyte_platform.operations.notifications.report import RunReport
from airbyte_platform.operations.notifications.routing import recipients_for
from airbyte_platform.operations.notifications.sensors import (
    FAILURE_SENSOR,
    SUCCESS_SENSOR,
    build_notification_sensors,
)
from airbyte_platform.settings import Settings, SettingsError, load_settings
from airbyte_platform_tests.operations.loopback import HttpStandIn, free_port

SLACK_TOKEN = "xoxb-test-token-4f2a9c"
WEBHOOK_TOKEN = "hook-token-77e1"


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # where dg.EnvVar resolves the secrets
    return load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path), **env})


def _evaluate(
    settings: Settings, instance: dg.DagsterInstance, run_id: str, sleeps: list[float] | None = None
):
    run = instance.get_run_by_id(run_id)
    assert run is not None
    failed = run.status == dg.DagsterRunStatus.FAILURE
    event_type = DagsterEventType.RUN_FAILURE if failed else DagsterEventType.RUN_SUCCESS
    event = instance.get_records_for_run(run_id, of_type=event_type).records[0].event_log_entry.dagster_event
    sensors = {
        s.name: s
        for s in build_notification_sensors(settings, sleep=(sleeps if sleeps is not None else []).append)
    }
    context = dg.build_run_status_sensor_context(
        sensor_name=FAILURE_SENSOR if failed else SUCCESS_SENSOR,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
    )
    if failed:
        return sensors[FAILURE_SENSOR](context.for_run_failure())
    return sensors[SUCCESS_SENSOR](context)


def _materialized(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[int, str]]:
    """asset -> (records_synced, sync id) as the run recorded them."""
    found = {}
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        materialization = record.event_log_entry.dagster_event.step_materialization_data.materialization
        metadata = materialization.metadata
        found[materialization.asset_key.to_user_string()] = (
            metadata["records_synced"].value,
            metadata["sync_id"].value,
        )
    return found


def test_a_failed_sync_emails_the_connection_the_airbyte_job_and_the_reason(
    finished_runs, smtp_server, monkeypatch, tmp_path
):
    instance, _, _, failed_run = finished_runs
    settings = _settings(
        monkeypatch,
        tmp_path,
        NOTIFY_EMAIL_TO="data-team@example.com",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
    )
    assert _evaluate(settings, instance, failed_run) is None

    assert len(smtp_server.messages) == 1
    recipients, email = smtp_server.messages[0]
    assert recipients == ["data-team@example.com"]
    assert email["Subject"] == "Airbyte sync failed: stripe_to_s3 (job sync_stripe_to_s3)"
    body = email.get_payload()
    assert failed_run in body
    materialized = _materialized(instance, failed_run)
    assert materialized, "the failed run still synced (its checks failed after)"
    for asset, (records, sync_id) in materialized.items():
        assert f"{asset}: {records} rows" in body
        assert f"Airbyte job {sync_id}" in body
    assert "check min_records on lake/stripe/charges failed" in body
    assert "fewer than the minimum of 100" in body
    assert instance.get_run_by_id(failed_run).tags[f"{TAG_PREFIX}email"] == "sent"


def test_a_crashed_connector_s_email_gives_the_error_the_sync_raised(
    platform_homes, instance, smtp_server, monkeypatch, tmp_path
):
    """The reason is the sync's own error (connection, stream, the connector's last stderr lines),
    not only its innermost cause ("the connector exited with code 1")."""
    from airbyte_platform_tests.operations.conftest import lake_sync_run, new_home

    crashed = lake_sync_run(new_home(platform_homes), instance, fail_after=50)
    assert not crashed.success
    settings = _settings(
        monkeypatch,
        tmp_path,
        NOTIFY_EMAIL_TO="data-team@example.com",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
    )
    assert _evaluate(settings, instance, crashed.run_id) is None
    [(_, email)] = smtp_server.messages
    body = email.get_payload(decode=True).decode()  # quoted-printable: long lines are folded
    assert "step airbyte_sync_stripe_to_s3 failed: " in body
    assert "EmbeddedSyncError: sync of connection 'stripe_to_s3' (connector sample:stripe)" in body
    assert "the connector exited with code 1" in body
    assert "fail_after=50 records reached" in body  # the connector's stderr
    assert "DagsterExecutionStepExecutionError" not in body


def test_a_success_posts_to_slack_and_the_webhook(
    finished_runs, slack_api, webhook_endpoint, monkeypatch, tmp_path
):
    instance, _, ok_run, _ = finished_runs
    settings = _settings(
        monkeypatch,
        tmp_path,
        SLACK_TOKEN=SLACK_TOKEN,
        SLACK_CHANNEL="#data-team",
        SLACK_API_URL=f"{slack_api.url}/api",
        NOTIFY_WEBHOOK_URL=f"{webhook_endpoint.url}/hooks/runs?token={WEBHOOK_TOKEN}",
    )
    assert _evaluate(settings, instance, ok_run) is None

    [(path, headers, body)] = slack_api.requests
    assert path == "/api/chat.postMessage"
    assert headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    posted = (
        json.loads(body)
        if body.startswith(b"{")
        else dict(pair.split("=", 1) for pair in body.decode().split("&"))
    )
    assert posted["channel"] in ("#data-team", "%23data-team")

    [(path, _, body)] = webhook_endpoint.requests
    assert path == f"/hooks/runs?token={WEBHOOK_TOKEN}"
    payload = json.loads(body)
    assert payload["status"] == "success" and payload["run_id"] == ok_run
    assert payload["connections"] == ["stripe_to_s3"]
    records = {line["asset"]: line["records_synced"] for line in payload["streams"]}
    assert records == {asset: figures[0] for asset, figures in _materialized(instance, ok_run).items()}
    assert WEBHOOK_TOKEN not in body.decode() and SLACK_TOKEN not in body.decode()
    tags = instance.get_run_by_id(ok_run).tags
    assert tags[f"{TAG_PREFIX}slack"] == "sent" and tags[f"{TAG_PREFIX}webhook"] == "sent"


def test_a_failing_channel_is_retried_logged_and_never_raises(finished_runs, monkeypatch, tmp_path):
    instance, _, _, failed_run = finished_runs
    with HttpStandIn(fail_first=1) as webhook:
        settings = _settings(
            monkeypatch,
            tmp_path,
            NOTIFY_EMAIL_TO="data-team@example.com",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(free_port()),  # nothing listens there
            NOTIFY_WEBHOOK_URL=f"{webhook.url}/hook",
            NOTIFY_ATTEMPTS="3",
        )
        sleeps: list[float] = []
        result = _evaluate(settings, instance, failed_run, sleeps)
        assert len(webhook.requests) == 2  # a 503, then delivered on the retry
    assert isinstance(result, dg.SkipReason) and "email" in (result.skip_message or "")
    assert sleeps == [1.0, 2.0, 1.0]  # email: backoff before tries 2 and 3; webhook: before try 2
    tags = instance.get_run_by_id(failed_run).tags
    assert tags[f"{TAG_PREFIX}email"] == "failed" and tags[f"{TAG_PREFIX}webhook"] == "sent"
    assert instance.get_run_by_id(failed_run).status == dg.DagsterRunStatus.FAILURE  # unchanged


def test_secrets_never_reach_a_message(smtp_server, webhook_endpoint, monkeypatch, tmp_path):
    password = "s3cr3t-pa55word"
    settings = _settings(
        monkeypatch,
        tmp_path,
        NOTIFY_EMAIL_TO="data-team@example.com",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
        NOTIFY_WEBHOOK_URL=f"{webhook_endpoint.url}/hook",
        SNOWFLAKE_PASSWORD=password,
    )

    @dg.op
    def load() -> None:
        raise ConnectionError(
            f"could not log in with password {password} to postgresql://loader:other-pass@db:5432/analytics"
        )

    @dg.job
    def leaky_job() -> None:
        load()

    with dg.instance_for_test() as instance:
        result = leaky_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        _evaluate(settings, instance, result.run_id)
    [(_, email)] = smtp_server.messages
    [(_, _, webhook_body)] = webhook_endpoint.requests
    for text in (email.get_payload(), webhook_body.decode()):
        assert "could not log in with password ***" in text
        assert password not in text and "other-pass" not in text


def _report(job: str, connections: tuple[str, ...], outcome: str = "failure") -> RunReport:
    return RunReport(
        run_id="r1", job_name=job, outcome=outcome, duration_seconds=1.0, connections=connections, streams=()
    )  # type: ignore[arg-type]


def test_routes_per_job_and_connection_replace_the_default(tmp_path):
    routes = {
        "job:stripe_datalake_pipeline": {"on": ["failure"], "email_to": ["finance@example.com"]},
        "connection:hubspot_to_postgres": {
            "on": ["failure", "success"],
            "email_to": ["sales-ops@example.com"],
            "webhook": True,
        },
    }
    settings = load_settings(
        {
            "AIRBYTE_PLATFORM_HOME": str(tmp_path),
            "NOTIFY_EMAIL_TO": "data-team@example.com",
            "SMTP_HOST": "127.0.0.1",
            "NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "NOTIFY_ROUTES": json.dumps(routes),
        }
    ).notifications
    assert settings is not None
    plain = recipients_for(_report("airbyte_multi_source_sync", ("stripe_to_postgres",)), settings)
    assert plain.email_to == ("data-team@example.com",) and plain.webhook
    stripe = recipients_for(_report("stripe_datalake_pipeline", ("stripe_to_s3",)), settings)
    assert stripe.email_to == ("finance@example.com",) and not stripe.webhook
    assert recipients_for(_report("stripe_datalake_pipeline", (), "success"), settings).empty
    both = recipients_for(_report("stripe_datalake_pipeline", ("hubspot_to_postgres",)), settings)
    assert both.email_to == ("finance@example.com", "sales-ops@example.com") and both.webhook


def test_bad_notification_settings_name_the_variable(tmp_path):
    with pytest.raises(SettingsError) as error:
        load_settings(
            {
                "AIRBYTE_PLATFORM_HOME": str(tmp_path),
                "NOTIFY_EMAIL_TO": "data-team@example.com",
                "NOTIFY_ON": "failure,sometimes",
                "SLACK_TOKEN": "xoxb-1",
                "NOTIFY_WEBHOOK_URL": f"ftp://host/{WEBHOOK_TOKEN}",
                "NOTIFY_ROUTES": '{"stripe": {}}',
            }
        )
    problems = "\n".join(error.value.problems)
    assert "SMTP_HOST is not set" in problems
    assert "NOTIFY_ON='failure,sometimes'" in problems
    assert "SLACK_CHANNEL is not set" in problems
    assert "NOTIFY_WEBHOOK_URL is not an http(s) URL" in problems and WEBHOOK_TOKEN not in problems
    assert "NOTIFY_ROUTES['stripe']: keys are 'job:<job name>'" in problems
