"""The Airflow DAGs of the seeds, as data: DAG id, schedule, and what each task id became.

Each task id maps to the asset keys (or asset-check names) that now do its work, so a reader who
knows the Airflow DAG finds its pieces in the Dagster UI, and a test holds every documented task id
to something that exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from airbyte_platform.core.catalog import connection_named


def _streams(connection_name: str) -> tuple[dg.AssetKey, ...]:
    connection = connection_named(connection_name)
    return tuple(connection.asset_key(stream) for stream in connection.streams)


PROCESSED_STRIPE = dg.AssetKey(["processed", "stripe"])
SNOWFLAKE_STRIPE_REVENUE = dg.AssetKey(["snowflake", "stripe_revenue"])
CUSTOMERS_UNIFIED = dg.AssetKey(["snowflake", "customers_unified"])
REVENUE_ANALYTICS = dg.AssetKey(["snowflake", "revenue_analytics"])
SALES_PIPELINE = dg.AssetKey(["snowflake", "sales_pipeline"])

EVERY_6_HOURS = "0 */6 * * *"
RESILIENT_SYNC = "resilient_sync"


@dataclass(frozen=True)
class TaskMapping:
    """What an Airflow task became: assets it materializes and/or checks it runs."""

    assets: tuple[dg.AssetKey, ...] = ()
    check_names: tuple[str, ...] = ()  # checks of this name on the DAG's assets
    note: str = ""
    # Op jobs (resilient_sync): the steps doing the task, where no asset step is planned for it.
    ops: tuple[str, ...] = ()
    # Airflow's TriggerRule.ALL_FAILED: the task runs only after this one failed (so if it ran, that failed).
    after_failure_of: str | None = None


@dataclass(frozen=True)
class DagSpec:
    dag_id: str
    description: str
    tasks: Mapping[str, TaskMapping]
    schedule: str | None = None
    # Retries the DAG set per task (resilient_sync: retries=3, retry_delay=10 minutes).
    retry_policy: dg.RetryPolicy | None = None
    checks_only: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def asset_keys(self) -> tuple[dg.AssetKey, ...]:
        keys: list[dg.AssetKey] = []
        for task in self.tasks.values():
            keys.extend(key for key in task.assets if key not in keys)
        return tuple(keys)


DAGS: tuple[DagSpec, ...] = (
    DagSpec(
        dag_id="airbyte_stripe_to_postgres",
        description="Sync Stripe to PostgreSQL every 6 hours.",
        schedule=EVERY_6_HOURS,
        tasks={"sync_stripe_to_postgres": TaskMapping(assets=_streams("stripe_to_postgres"))},
    ),
    DagSpec(
        dag_id="airbyte_multi_source_sync",
        description="Stripe, HubSpot and Salesforce syncs in parallel.",
        tasks={
            "sync_stripe": TaskMapping(assets=_streams("stripe_to_postgres")),
            "sync_hubspot": TaskMapping(assets=_streams("hubspot_to_postgres")),
            "sync_salesforce": TaskMapping(assets=_streams("salesforce_to_postgres")),
        },
    ),
    DagSpec(
        dag_id="airbyte_event_driven_sync",
        description=(
            "Sync one connection on demand: in the Launchpad give `connection_id: <its Airbyte id or name>` "
            "(any connection of the workspace; without it every connection syncs). Webhooks "
            '(POST /webhooks/trigger with {"connection_id": ...}) and the trigger CLI launch the same run config.'
        ),
        tasks={
            "trigger_sync": TaskMapping(
                assets=tuple(
                    key
                    for name in (
                        "stripe_to_s3",
                        "stripe_to_postgres",
                        "hubspot_to_postgres",
                        "salesforce_to_postgres",
                        "app_postgres_cdc",
                    )
                    for key in _streams(name)
                )
            )
        },
    ),
    DagSpec(
        dag_id="stripe_datalake_pipeline",
        description="Stripe → S3 (Airbyte) → Databricks → Snowflake, every 6 hours.",
        schedule=EVERY_6_HOURS,
        tasks={
            "sync_stripe_to_s3": TaskMapping(assets=_streams("stripe_to_s3")),
            "process_stripe_data": TaskMapping(assets=(PROCESSED_STRIPE,)),
            "load_to_snowflake": TaskMapping(assets=(SNOWFLAKE_STRIPE_REVENUE,)),
        },
    ),
    DagSpec(
        dag_id="multi_source_analytics",
        description="Stripe, HubSpot and application PostgreSQL into PostgreSQL, consolidated into Snowflake.",
        tasks={
            "sync_stripe": TaskMapping(assets=_streams("stripe_to_postgres")),
            "sync_hubspot": TaskMapping(assets=_streams("hubspot_to_postgres")),
            "sync_postgres": TaskMapping(assets=_streams("app_postgres_cdc")),
            "transform_and_consolidate": TaskMapping(
                assets=(CUSTOMERS_UNIFIED, REVENUE_ANALYTICS, SALES_PIPELINE),
                note="the consolidation SQL runs in Snowflake as part of each table's asset",
            ),
            "load_to_snowflake": TaskMapping(assets=(CUSTOMERS_UNIFIED, REVENUE_ANALYTICS, SALES_PIPELINE)),
        },
    ),
    DagSpec(
        dag_id="postgres_cdc_replication",
        description="Check the CDC replication of the application PostgreSQL: slot health, then lag (max_lag_seconds=300).",
        schedule="*/10 * * * *",
        checks_only=True,
        tasks={
            "check_cdc_health": TaskMapping(check_names=("check_cdc_health",)),
            "check_replication_lag": TaskMapping(check_names=("check_replication_lag",)),
        },
        tags={"airbyte/connection": "app_postgres_cdc"},
    ),
    DagSpec(
        dag_id="stripe_etl_validated",
        description="Stripe sync, minimum records, Great Expectations suite, transform and load to the warehouse.",
        tasks={
            "sync_stripe": TaskMapping(assets=_streams("stripe_to_postgres")),
            "validate_min_records": TaskMapping(check_names=("min_records",)),
            "validate_data_quality": TaskMapping(check_names=("gx_suite",)),
            "transform_data": TaskMapping(assets=(REVENUE_ANALYTICS,)),
            "load_to_warehouse": TaskMapping(assets=(REVENUE_ANALYTICS,)),
        },
    ),
    DagSpec(
        dag_id="event_driven_sync",
        description="On a Stripe webhook, sync Stripe → PostgreSQL if the last sync is older than 6 hours.",
        tasks={
            "wait_for_stripe_webhook": TaskMapping(note="the Stripe webhook sensor"),
            "check_sync_condition": TaskMapping(note="the 6-hour rule, applied by the sensor"),
            "sync_if_needed": TaskMapping(assets=_streams("stripe_to_postgres")),
        },
    ),
    DagSpec(
        dag_id=RESILIENT_SYNC,
        description="Stripe → PostgreSQL with 3 retries 10 minutes apart, a fallback path, then validation.",
        # As the seeds wrote it: retries=3, retry_delay=timedelta(minutes=10), no backoff (primary_sync's
        # op config defaults; see airflow_compat/resilient.py).
        retry_policy=dg.RetryPolicy(max_retries=3, delay=600),
        tasks={
            "primary_sync": TaskMapping(assets=_streams("stripe_to_postgres"), ops=("primary_sync",)),
            "fallback_sync": TaskMapping(
                assets=_streams("stripe_to_postgres"),
                ops=("fallback_sync",),
                after_failure_of="primary_sync",
                note="only after primary_sync failed for good: the backup connection "
                "(AIRBYTE_STRIPE_BACKUP_CONNECTION_ID), or the embedded runner when Airbyte is unreachable",
            ),
            "validate_sync": TaskMapping(check_names=("min_records",), ops=("validate_sync",)),
        },
    ),
    DagSpec(
        dag_id="parallel_syncs",
        description="Stripe, HubSpot and Salesforce syncs with no dependencies between them.",
        tasks={
            "sync_stripe": TaskMapping(assets=_streams("stripe_to_postgres")),
            "sync_hubspot": TaskMapping(assets=_streams("hubspot_to_postgres")),
            "sync_salesforce": TaskMapping(assets=_streams("salesforce_to_postgres")),
        },
    ),
)

DAG_IDS: tuple[str, ...] = tuple(dag.dag_id for dag in DAGS)


def dag_named(dag_id: str) -> DagSpec:
    for dag in DAGS:
        if dag.dag_id == dag_id:
            return dag
    raise KeyError(f"unknown DAG id {dag_id!r}; known: {', '.join(DAG_IDS)}")
