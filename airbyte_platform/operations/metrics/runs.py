"""Run storage: runs per job and final status, the queue, and notification outcomes.

Counts come from `get_runs_count` (one indexed query each), so they survive exporter restarts and
are the same whichever pod ran the run. Job names are those of the newest `recent_runs` runs: a job
that has not run for that long drops out of the per-job series, which is what its alerts expect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import dagster as dg
from prometheus_client.metrics_core import Metric

from airbyte_platform.operations.metrics.families import counter, gauge
from airbyte_platform.operations.notifications.delivery import TAG_PREFIX

FINAL = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
IN_FLIGHT = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
CHANNELS = ("email", "slack", "webhook")


def collect_runs(
    instance: dg.DagsterInstance, recent_runs: int, clock: Callable[[], float] = time.time
) -> Iterator[Metric]:
    finished = counter("runs", "Runs of each job that ended with this status.", ["dagster_job", "status"])
    jobs = sorted({run.job_name for run in instance.get_runs(limit=recent_runs)})
    for job in jobs:
        for status in FINAL:
            count = instance.get_runs_count(dg.RunsFilter(job_name=job, statuses=[status]))
            finished.add_metric([job, status.value], count)
    yield finished

    current = gauge("runs_in_status", "Runs queued or in progress right now.", ["status"])
    for status in IN_FLIGHT:
        current.add_metric([status.value], instance.get_runs_count(dg.RunsFilter(statuses=[status])))
    yield current

    oldest = gauge("run_queue_oldest_age_seconds", "Age of the oldest queued run (0 when none waits).", [])
    queued = instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]), limit=1, ascending=True
    )
    oldest.add_metric([], max(0.0, clock() - queued[0].create_timestamp.timestamp()) if queued else 0.0)
    yield oldest

    notifications = counter(
        "notifications", "Runs notified per channel and outcome (after retries).", ["channel", "outcome"]
    )
    for channel in CHANNELS:
        for outcome in ("sent", "failed"):
            count = instance.get_runs_count(dg.RunsFilter(tags={f"{TAG_PREFIX}{channel}": outcome}))
            notifications.add_metric([channel, outcome], count)
    yield notifications
