"""`event_driven_sync`: a Stripe event syncs Stripe → PostgreSQL, but at most once per 6 hours.

The DAG waited for a Stripe webhook, then synced only if the last sync was more than 6 hours old
(`should_sync`: `(now - last_sync).total_seconds() > 21600`). Here, for each new event of the route
(Stripe deliveries, and triggers of `event_driven_sync`):

- a run of the connection's assets is queued or running → no run (it will bring the data);
- the connection was synced less than 6 hours ago (the oldest of its assets' latest
  materializations, read from the Dagster instance) → no run;
- otherwise → one run, with run key = the event id; the events after it in the same evaluation
  count that run as the latest sync, so a burst of Stripe events launches one sync, not hundreds.

Runs launched at one evaluation are created by the daemon before the next one, so the next
evaluation sees them as in progress.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations
# (context type, resource parameters) at definition time.
import datetime as dt
import time
from collections.abc import Callable

import dagster as dg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.events.routes import EVENT_DRIVEN_SYNC, STRIPE_CONNECTION
from airbyte_platform.events.sensors.asset_history import last_materialized_at, run_in_progress
from airbyte_platform.events.sensors.cursor import dump_cursor
from airbyte_platform.events.sensors.inbox_reading import (
    SENSOR_INTERVAL_SECONDS,
    NewEvents,
    event_tags,
    read_new_events,
)

SYNC_INTERVAL = dt.timedelta(hours=6)
SENSOR_NAME = "event_driven_sync_webhook_sensor"


def _age(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _due(age_seconds: float, interval_seconds: float) -> bool:
    """The DAG's `should_sync`: `(now - last_sync).total_seconds() > 21600`; interval 0 syncs always."""
    return interval_seconds == 0 or age_seconds > interval_seconds


def build_event_driven_sync_sensor(
    default_status: dg.DefaultSensorStatus,
    sync_interval: dt.timedelta = SYNC_INTERVAL,
    clock: Callable[[], float] = time.time,
) -> dg.SensorDefinition:
    """`sync_interval`: the 6-hour rule (0 syncs on every event); `clock`: injectable for tests."""
    connection = connection_named(STRIPE_CONNECTION)
    keys = [connection.asset_key(stream) for stream in connection.streams]
    interval = sync_interval.total_seconds()

    @dg.sensor(
        name=SENSOR_NAME,
        job_name=EVENT_DRIVEN_SYNC,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description="On a Stripe webhook, runs event_driven_sync (Stripe → PostgreSQL) if the last sync of "
        f"{STRIPE_CONNECTION} is older than {_age(interval) if interval else 'zero'} and none is in progress.",
    )
    def event_driven_sync_webhook_sensor(
        context: dg.SensorEvaluationContext, webhook_inbox: WebhookInboxResource
    ) -> dg.SensorResult | dg.SkipReason:
        new = read_new_events(context, webhook_inbox, EVENT_DRIVEN_SYNC)
        if not isinstance(new, NewEvents):
            return new
        now = clock()
        in_progress = run_in_progress(context.instance, keys)
        last_sync = last_materialized_at(context.instance, keys)
        run_requests: list[dg.RunRequest] = []
        reasons: list[str] = []
        for event in new.events:
            if in_progress is not None:
                reasons.append(f"{event.event_id}: sync run {in_progress} is in progress")
            elif last_sync is not None and not _due(now - last_sync, interval):
                reasons.append(
                    f"{event.event_id}: last sync {_age(now - last_sync)} ago, within {_age(interval)}"
                )
            else:
                run_requests.append(
                    dg.RunRequest(
                        run_key=event.event_id,
                        job_name=EVENT_DRIVEN_SYNC,
                        tags={**event_tags(event), "airbyte/connection": STRIPE_CONNECTION},
                    )
                )
                last_sync = now  # the run just requested is the latest sync for the events after it
        for reason in reasons[:20]:
            context.log.info(f"no sync for {reason}")
        cursor = dump_cursor({**new.cursor, "position": new.events[-1].position})
        skip = None
        if not run_requests:
            skip = f"{len(new.events)} event(s), no sync: {reasons[0]}" + (
                f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            )
        return dg.SensorResult(run_requests=run_requests, cursor=cursor, skip_reason=skip)

    return event_driven_sync_webhook_sensor
