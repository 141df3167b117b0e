"""Jobs and schedules named after the Airflow DAGs, built from `dags.DAGS`."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from airbyte_platform.airflow_compat.dags import DAGS, DagSpec
from airbyte_platform.ingestion.catalog import connection_named
from airbyte_platform.settings import Settings


def _checks_only_selection(dag: DagSpec, check_keys: Iterable[dg.AssetCheckKey]) -> dg.AssetSelection:
    """The checks named by the DAG's tasks, on the assets of the DAG's connection."""
    names = {name for task in dag.tasks.values() for name in task.check_names}
    connection_name = dag.tags.get("airbyte/connection")
    assets = (
        {connection_named(connection_name).asset_key(s) for s in connection_named(connection_name).streams}
        if connection_name
        else None
    )
    selected = [
        key for key in check_keys if key.name in names and (assets is None or key.asset_key in assets)
    ]
    return dg.AssetSelection.checks(*sorted(selected, key=lambda k: (k.asset_key.to_user_string(), k.name)))


def build_airflow_jobs(
    settings: Settings, check_keys: Iterable[dg.AssetCheckKey]
) -> tuple[list[dg.UnresolvedAssetJobDefinition], list[dg.ScheduleDefinition]]:
    """One job per documented DAG id, and a schedule where the DAG had one.

    `check_keys`: every asset check defined in the code location, so checks-only DAGs
    (postgres_cdc_replication) select the checks that exist rather than guessing their assets.
    """
    check_keys = list(check_keys)
    jobs: list[dg.UnresolvedAssetJobDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    for dag in DAGS:
        selection = (
            _checks_only_selection(dag, check_keys)
            if dag.checks_only
            else dg.AssetSelection.assets(*dag.asset_keys)
        )
        job = dg.define_asset_job(
            name=dag.dag_id,
            selection=selection,
            description=f"{dag.description} (Airflow DAG `{dag.dag_id}`; tasks: {', '.join(dag.tasks)})",
            tags={"airflow/dag_id": dag.dag_id, **dag.tags},
            op_retry_policy=dag.retry_policy,
        )
        jobs.append(job)
        if dag.schedule:
            schedules.append(
                dg.ScheduleDefinition(
                    name=f"{dag.dag_id}_schedule",
                    job=job,
                    cron_schedule=dag.schedule,
                    execution_timezone="UTC",
                    # Locally a schedule firing every few hours in `dagster dev` surprises more than it helps.
                    default_status=dg.DefaultScheduleStatus.STOPPED
                    if settings.is_local
                    else dg.DefaultScheduleStatus.RUNNING,
                    description=f"The schedule of Airflow DAG `{dag.dag_id}` ({dag.schedule}, UTC).",
                )
            )
    return jobs, schedules
