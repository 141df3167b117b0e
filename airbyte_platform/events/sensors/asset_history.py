"""What the Dagster instance knows about a connection's assets: last sync, sync in progress, past reports."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

IN_PROGRESS = frozenset(
    {
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    }
)


def last_materialized_at(instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey]) -> float | None:
    """When the whole connection was last synced: the oldest of its assets' latest materializations.

    None when any asset was never materialized (the connection has never been fully synced).
    """
    if not keys:
        return None
    latest = instance.get_latest_materialization_events(keys)
    times = [event.timestamp if event is not None else None for event in (latest.get(k) for k in keys)]
    if any(t is None for t in times):
        return None
    return min(t for t in times if t is not None)


def run_in_progress(instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey]) -> str | None:
    """The id of a queued or running run planned to materialize any of `keys`, if there is one.

    Dagster records a "materialization planned" event for every asset of a run when the run is
    created, whoever launched it (a schedule, a sensor, the UI), so this sees them all.
    """
    for key in keys:
        planned = instance.get_latest_planned_materialization_info(key)
        if planned is None:
            continue
        run = instance.get_run_by_id(planned.run_id)
        if run is not None and run.status in IN_PROGRESS:
            return run.run_id
    return None


def reported_job_ids(instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey]) -> set[str]:
    """Airbyte job ids already on these assets' latest materializations (`airbyte/job_id` metadata)."""
    ids: set[str] = set()
    for event in instance.get_latest_materialization_events(keys).values():
        materialization = event.asset_materialization if event is not None else None
        if materialization is None:
            continue
        value = materialization.metadata.get("airbyte/job_id")
        if value is not None:
            ids.add(str(getattr(value, "value", value)))
    return ids
