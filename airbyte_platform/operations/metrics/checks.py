"""The latest result of every asset check (min_records, gx_suite, freshness, CDC, transform checks).

Bounded: the newest `limit` check evaluations of the event log, newest first, keeping the first
seen per check. A check not evaluated within that window keeps its series out until it runs again.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
from dagster._core.events import DagsterEventType
from prometheus_client.metrics_core import Metric

from airbyte_platform.operations.metrics.families import gauge


def collect_checks(instance: dg.DagsterInstance, limit: int) -> Iterator[Metric]:
    passed = gauge(
        "asset_check_passed",
        "1 when the latest evaluation of the check passed, 0 when it failed.",
        ["asset", "check", "severity"],
    )
    evaluated_at = gauge(
        "asset_check_last_evaluation_timestamp_seconds",
        "When the check was last evaluated.",
        ["asset", "check"],
    )
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION),
        limit=limit,
        ascending=False,
    )
    seen: set[tuple[str, str]] = set()
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        evaluation = event.event_specific_data
        key = (evaluation.asset_key.to_user_string(), evaluation.check_name)  # type: ignore[union-attr]
        if key in seen:
            continue
        seen.add(key)
        severity = evaluation.severity.value if evaluation.severity else "ERROR"  # type: ignore[union-attr]
        passed.add_metric([*key, severity], 1.0 if evaluation.passed else 0.0)  # type: ignore[union-attr]
        evaluated_at.add_metric(list(key), record.event_log_entry.timestamp)
    yield passed
    yield evaluated_at
