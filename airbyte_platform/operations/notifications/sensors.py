"""The run-status sensors that notify: one on failure, one on success.

They watch every job of this code location (Airflow-named jobs, asset jobs launched from the UI,
sensor-launched syncs). A sensor only reads the finished run from the instance and sends; a failing
channel is retried and recorded but never raises, so one bad SMTP server cannot wedge the sensor's
cursor and hold back every later notification.
"""

from __future__ import annotations

import logging
import time

import dagster as dg

from airbyte_platform.operations.notifications.delivery import Sleep, deliver
from airbyte_platform.operations.notifications.message import render
from airbyte_platform.operations.notifications.report import Outcome, build_run_report
from airbyte_platform.operations.notifications.routing import recipients_for
from airbyte_platform.settings import NotificationSettings, Settings

FAILURE_SENSOR = "notify_on_run_failure"
SUCCESS_SENSOR = "notify_on_run_success"


def secret_values(settings: Settings) -> tuple[str, ...]:
    """Values of every secret variable the settings name, to mask out of failure texts."""
    names: list[str | None] = [settings.postgres_dsn_var]
    for part in (
        settings.airbyte,
        settings.databricks,
        settings.snowflake,
        settings.webhooks,
        settings.cdc,
        settings.notifications,
    ):
        if part is not None:
            names.extend(value for key, value in vars(part).items() if key.endswith("_var"))
    values = []
    for name in {n for n in names if n}:
        value = dg.EnvVar(name).get_value()
        if value:
            values.append(value)
    return tuple(values)


def notify(
    context: dg.RunStatusSensorContext,
    outcome: Outcome,
    settings: Settings,
    sleep: Sleep = time.sleep,
) -> dg.SkipReason | None:
    notifications = settings.notifications
    assert notifications is not None
    run = context.dagster_run
    log: logging.Logger = context.log  # type: ignore[assignment]
    secrets = secret_values(settings)
    failure_message = None
    if outcome == "failure":
        failure_message = getattr(context, "failure_event", context.dagster_event).message
    report = build_run_report(
        context.instance, run, outcome, failure_message, notifications.dagster_ui_url, secrets
    )
    recipients = recipients_for(report, notifications)
    if recipients.empty:
        return dg.SkipReason(f"no notification configured for {outcome} of job {run.job_name}")
    outcomes = deliver(
        context.instance, run.run_id, render(report), recipients, notifications, log, secrets, sleep
    )
    failed = [o.channel for o in outcomes if not o.sent]
    if failed:
        return dg.SkipReason(
            f"run {run.run_id}: {', '.join(failed)} notification failed after retries (see the sensor log)"
        )
    return None


def build_notification_sensors(settings: Settings, sleep: Sleep = time.sleep) -> list[dg.SensorDefinition]:
    """`sleep`: the pause between retries (injected by tests)."""
    notifications: NotificationSettings | None = settings.notifications
    # Nothing to send without a configured channel: stopped, so the daemon does not tick for nothing.
    status = (
        dg.DefaultSensorStatus.RUNNING
        if notifications is not None and notifications.any_channel
        else dg.DefaultSensorStatus.STOPPED
    )

    @dg.run_failure_sensor(
        name=FAILURE_SENSOR,
        default_status=status,
        description="Notifies (email, Slack, webhook; NOTIFY_* settings) when a run of this code location fails.",
    )
    def notify_on_run_failure(context: dg.RunFailureSensorContext):
        return notify(context, "failure", settings, sleep)

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=SUCCESS_SENSOR,
        default_status=status,
        description="Notifies (email, Slack, webhook; NOTIFY_* settings) when a run of this code location succeeds.",
    )
    def notify_on_run_success(context: dg.RunStatusSensorContext):
        return notify(context, "success", settings, sleep)

    return [notify_on_run_failure, notify_on_run_success]
