"""Jobs and schedules named after the Airflow DAGs, built from `dags.DAGS`."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from airbyte_platform.airflow_compat.dags import DAGS, RESILIENT_SYNC, DagSpec
from airbyte_platform.airflow_compat.resilient import build_resilient_sync_job
from airbyte_platform.core.catalog import connection_named
from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC
from airbyte_platform.ingestion.sync_ops import RUN_CONFIG_KEY, SYNC_RUN_TAG, SyncOp, resolve_connection
from airbyte_platform.settings import Settings


def connection_run_config(ops: list[SyncOp]) -> dg.ConfigMapping:
    """`{"connection_id": ...}` (the DAG's conf) as the job's whole run config, in the launchpad too.

    An id or a connection's name, one of the code location's connections (an enum: the launchpad
    offers them, and an unknown one is a config error naming the value, before any run starts).
    Every sync op of the run gets the id and all but that connection's op skip themselves. Without
    it, every connection of the job syncs.
    """
    choices: dict[str, SyncOp] = {}
    for op in ops:
        for value in (op.connection_name, op.connection_id):
            choices.setdefault(value, op)
    connections = dg.Enum(
        "AirbyteConnection",
        [
            dg.EnumValue(value, description=f"{op.connection_name} ({op.connection_id})")
            for value, op in sorted(choices.items())
        ],
    )

    def to_op_config(config: dict[str, str]) -> dict[str, object]:
        wanted = config.get(RUN_CONFIG_KEY)
        if not wanted:
            return {}
        target = resolve_connection(ops, wanted)
        return {"ops": {op.op_name: {"config": {RUN_CONFIG_KEY: target.connection_id}} for op in ops}}

    return dg.ConfigMapping(
        config_fn=to_op_config,
        config_schema={
            RUN_CONFIG_KEY: dg.Field(
                connections,
                is_required=False,
                description="The Airbyte connection to sync: its id, or its name (e.g. stripe_to_postgres). "
                "Leave it out to sync every connection.",
            )
        },
    )


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


def _selection(dag: DagSpec, ops: list[SyncOp]) -> dg.AssetSelection:
    if dag.dag_id == AIRBYTE_EVENT_DRIVEN_SYNC:
        # Any connection of the workspace, declared or discovered: the run config picks one.
        return dg.AssetSelection.assets(*(key for op in ops for key in op.keys))
    named = dg.AssetSelection.assets(*dag.asset_keys)
    # And what those assets read, one level up: a job never reads a table it did not sync
    # (multi_source_analytics' tables read Salesforce streams that no task of the DAG names).
    return named | named.upstream(depth=1, include_self=False)


def _executor(dag: DagSpec, ops: list[SyncOp]) -> dg.ExecutorDefinition | None:
    """In-process for a DAG whose work is one chain; the code location's multiprocess executor (None)
    where syncs of several connections can run side by side, as the DAG's parallel tasks did.

    A run is its own process either way. A chain gains nothing from a process per step and pays a
    bootstrap for each: stripe_datalake_pipeline took 70 s through the UI path against 31 s in-process.
    """
    if dag.dag_id == AIRBYTE_EVENT_DRIVEN_SYNC:
        return None
    keys = set(dag.asset_keys)
    connections = {op.op_name for op in ops if keys.intersection(op.keys)}
    return dg.in_process_executor if len(connections) <= 1 else None


def build_airflow_jobs(
    settings: Settings, check_keys: Iterable[dg.AssetCheckKey], ops: Iterable[SyncOp] = ()
) -> tuple[list[dg.UnresolvedAssetJobDefinition | dg.JobDefinition], list[dg.ScheduleDefinition]]:
    """One job per documented DAG id, and a schedule where the DAG had one.

    `check_keys`: every asset check defined in the code location, so checks-only DAGs
    (postgres_cdc_replication) select the checks that exist rather than guessing their assets.
    `ops`: every sync op, declared and discovered (`airbyte_event_driven_sync` takes any of them).
    """
    check_keys, ops = list(check_keys), list(ops)
    jobs: list[dg.UnresolvedAssetJobDefinition | dg.JobDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    for dag in DAGS:
        if dag.dag_id == RESILIENT_SYNC:
            # Trigger rules (run the fallback only after a failure) need ops, not an asset selection.
            jobs.append(build_resilient_sync_job(settings, dag))
            continue
        selection = _checks_only_selection(dag, check_keys) if dag.checks_only else _selection(dag, ops)
        job = dg.define_asset_job(
            name=dag.dag_id,
            selection=selection,
            description=f"{dag.description} (Airflow DAG `{dag.dag_id}`; tasks: {', '.join(dag.tasks)})",
            tags={
                "airflow/dag_id": dag.dag_id,
                **({} if dag.checks_only else {SYNC_RUN_TAG: "true"}),
                **dag.tags,
            },
            op_retry_policy=dag.retry_policy,
            executor_def=_executor(dag, ops),
            config=connection_run_config(ops) if dag.dag_id == AIRBYTE_EVENT_DRIVEN_SYNC else None,
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
