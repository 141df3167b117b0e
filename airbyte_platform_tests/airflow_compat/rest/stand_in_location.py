"""A code location with the real DAG jobs, schedules and sensors over fast stand-in assets.

The jobs, schedules and sensors are the production ones (`build_airflow_jobs`, `build_events_defs`);
only the work inside the steps is replaced, so a run takes a second instead of a minute of PySpark
and GX imports per step. As in production, each Airbyte connection is one step (a multi-asset over
its streams), each transform is its own step downstream of its inputs, and checks are their own steps.

A run fails a step on purpose when its Airflow conf (the `airflow/conf` tag the facade writes) lists
that step's name under "fail": the task-state tests need a failed step and its downstream steps.
"""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg

from airbyte_platform.airflow_compat.dags import (
    CUSTOMERS_UNIFIED,
    PROCESSED_STRIPE,
    REVENUE_ANALYTICS,
    SALES_PIPELINE,
    SNOWFLAKE_STRIPE_REVENUE,
)
from airbyte_platform.airflow_compat.jobs import build_airflow_jobs
from airbyte_platform.core.catalog import connection_named, declared_connections
from airbyte_platform.events.defs import build_events_defs
from airbyte_platform.events.resources import build_events_resources
from airbyte_platform.ingestion.sync_ops import (
    SYNC_OP_CONFIG_SCHEMA,
    runs_for_another_connection,
    sync_op_tags,
    sync_ops,
)
from airbyte_platform.settings import load_settings


def _fail_if_asked(context: dg.OpExecutionContext | dg.AssetCheckExecutionContext, name: str) -> None:
    conf = json.loads(context.run.tags.get("airflow/conf", "{}"))
    if name in conf.get("fail", []):
        raise RuntimeError(f"stand-in step {name} failed on purpose (conf.fail)")


def _connection_step(connection_name: str) -> dg.AssetsDefinition:
    connection = connection_named(connection_name)
    specs = [dg.AssetSpec(connection.asset_key(s), skippable=True) for s in connection.streams]

    @dg.multi_asset(
        name=f"sync_{connection_name}",
        specs=specs,
        can_subset=True,
        op_tags=sync_op_tags(connection_name, connection_name),  # the production ops' tags and config
        config_schema=SYNC_OP_CONFIG_SCHEMA,
    )
    def sync(context: dg.AssetExecutionContext):
        if runs_for_another_connection(context.op_execution_context, connection_name, connection_name):
            return
        _fail_if_asked(context, f"sync_{connection_name}")
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=key, metadata={"stand_in": True})

    return sync


def _transform(key: dg.AssetKey, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    name = "_".join(key.path)

    @dg.asset(key=key, deps=deps, name=None)
    def transform(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        _fail_if_asked(context, name)
        return dg.MaterializeResult(metadata={"stand_in": True})

    return transform


def _check(name: str, asset: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name)
    def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        _fail_if_asked(context, name)
        return dg.AssetCheckResult(passed=True)

    return check


class StandInAirbyte:
    """The `airbyte` resource of resilient_sync's ops (an op job): every selected stream synced at once,
    its min_records check passed, as the production resources report a sync."""

    def sync_connection(
        self, context: Any, target: Any
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            yield dg.MaterializeResult(asset_key=key, metadata={"stand_in": True})
        for check in context.selected_asset_check_keys:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)


def _streams(connection_name: str) -> list[dg.AssetKey]:
    connection = connection_named(connection_name)
    return [connection.asset_key(s) for s in connection.streams]


def build_stand_in_definitions() -> dg.Definitions:
    settings = load_settings()  # local mode in the test's temporary AIRBYTE_PLATFORM_HOME
    syncs = [_connection_step(c.name) for c in declared_connections()]
    stripe_pg = _streams("stripe_to_postgres")
    crm = stripe_pg + _streams("hubspot_to_postgres") + _streams("salesforce_to_postgres")
    transforms = [
        _transform(PROCESSED_STRIPE, _streams("stripe_to_s3")),
        _transform(SNOWFLAKE_STRIPE_REVENUE, [PROCESSED_STRIPE]),
        _transform(CUSTOMERS_UNIFIED, crm),
        _transform(REVENUE_ANALYTICS, stripe_pg),
        _transform(SALES_PIPELINE, crm),
    ]
    cdc_streams = _streams("app_postgres_cdc")
    checks = [
        _check("min_records", stripe_pg[0]),
        _check("gx_suite", stripe_pg[0]),
        _check("check_cdc_health", cdc_streams[0]),
        _check("check_replication_lag", cdc_streams[0]),
    ]
    check_keys = [key for c in checks for key in c.check_keys]
    jobs, schedules = build_airflow_jobs(settings, check_keys, sync_ops(syncs))
    events = build_events_defs(settings)
    return dg.Definitions(
        assets=[*syncs, *transforms],
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=events.sensors,
        resources={
            **build_events_resources(settings),
            "airbyte": dg.ResourceDefinition.hardcoded_resource(StandInAirbyte()),
            "destinations": dg.ResourceDefinition.none_resource(),  # only the embedded fallback writes
        },
        # One process per run rather than per step: the facade reads the same step statistics either
        # way, and two shared cores start a run's five step processes in tens of seconds.
        executor=dg.in_process_executor,
    )


defs = build_stand_in_definitions()
