"""Per-asset figures from the latest materialization of each asset (one asset record per key).

Sync metadata (`records_synced`, `bytes_synced`, `duration_seconds`) is the same in both modes (the
embedded runner locally, the Airbyte server in prod), so one series covers both. A bounded read:
one `get_asset_records` call for every asset key the instance knows, no event-log scan.

A failed materialization: Dagster OSS neither emits nor stores ASSET_FAILED_TO_MATERIALIZE (its
storages answer `can_store_asset_failure_events` False), so `last_failed_to_materialize_record` is
always empty there. A failure is read instead from the latest *planned* materialization: when the
run that planned it ended in FAILURE and nothing was materialized since, the asset is failing (a
sync step that crashed, a connector that exited non-zero).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState
from prometheus_client.metrics_core import Metric

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.operations.metrics.families import gauge

FRESHNESS_STATES = tuple(s.value for s in FreshnessState if s != FreshnessState.NOT_APPLICABLE)
SYNC_FIGURES = {
    "records_synced": ("sync_records", "Records synced by the latest sync of the stream."),
    "bytes_synced": ("sync_bytes", "Bytes synced by the latest sync of the stream."),
    "duration_seconds": ("sync_duration_seconds", "Duration of the latest sync (or transform) of the asset."),
}


def _number(metadata: dict[str, Any], key: str) -> float | None:
    entry = metadata.get(key)
    value = getattr(entry, "value", entry)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _planned_and_failed(
    instance: dg.DagsterInstance, key: dg.AssetKey, success_storage_id: int | None
) -> float | None:
    """When the run of the asset's latest planned materialization failed, if it planned it after
    the last success; None otherwise (succeeded, still running, or never planned)."""
    planned = instance.get_latest_planned_materialization_info(key)
    if planned is None or (success_storage_id is not None and planned.storage_id < success_storage_id):
        return None
    record = instance.get_run_record_by_id(planned.run_id)
    if record is None or record.dagster_run.status != dg.DagsterRunStatus.FAILURE:
        return None
    return record.end_time or record.update_timestamp.timestamp()


def collect_assets(instance: dg.DagsterInstance) -> Iterator[Metric]:
    streams = {c.asset_key(s): (c.name, s.name) for c in declared_connections() for s in c.streams}
    figures = {
        key: gauge(name, doc, ["asset", "connection", "stream"]) for key, (name, doc) in SYNC_FIGURES.items()
    }
    row_count = gauge("asset_row_count", "dagster/row_count of the latest materialization.", ["asset"])
    last_success = gauge(
        "asset_last_materialization_timestamp_seconds", "When the asset was last materialized.", ["asset"]
    )
    last_failure = gauge(
        "asset_last_failure_timestamp_seconds",
        "When a planned materialization of the asset last failed.",
        ["asset"],
    )
    failing = gauge(
        "asset_materialization_failing",
        "1 when the asset's latest planned materialization failed after its last success (a failed sync).",
        ["asset", "connection"],
    )
    freshness = gauge(
        "asset_freshness_state",
        "1 for the asset's current freshness state (PASS, WARN, FAIL, UNKNOWN), from the daemon's evaluation.",
        ["asset", "connection", "state"],
    )
    keys = list(instance.get_asset_keys())
    for key, state in instance.get_freshness_state_records(keys).items():
        connection, _ = streams.get(key, ("", ""))
        for name in FRESHNESS_STATES:
            freshness.add_metric(
                [key.to_user_string(), connection, name], 1.0 if state.freshness_state.value == name else 0.0
            )
    for record in instance.get_asset_records(keys):
        entry = record.asset_entry
        key = entry.asset_key
        asset = key.to_user_string()
        connection, stream = streams.get(key, ("", ""))
        success_at = failure_at = None
        success_storage_id = entry.last_materialization_storage_id
        if entry.last_materialization_record is not None:
            event = entry.last_materialization_record.event_log_entry
            success_at = event.timestamp
            last_success.add_metric([asset], success_at)
            materialization = event.asset_materialization
            metadata = dict(materialization.metadata) if materialization else {}
            for name, family in figures.items():
                value = _number(metadata, name)
                if value is not None:
                    family.add_metric([asset, connection, stream], value)
            rows = _number(metadata, "dagster/row_count")
            if rows is not None:
                row_count.add_metric([asset], rows)
        if entry.last_failed_to_materialize_record is not None:  # storages that keep asset failures
            failure_at = entry.last_failed_to_materialize_record.event_log_entry.timestamp
        else:
            failure_at = _planned_and_failed(instance, key, success_storage_id)
        if failure_at is not None:
            last_failure.add_metric([asset], failure_at)
        failing.add_metric(
            [asset, connection],
            1.0 if failure_at is not None and (success_at is None or failure_at > success_at) else 0.0,
        )
    yield from (*figures.values(), row_count, last_success, last_failure, failing, freshness)
