"""`resilient_sync` as the seeds wrote it: `primary_sync` → `fallback_sync` → `validate_sync`.

    primary_sync   Stripe → PostgreSQL, retried 3 times 10 minutes apart (retries=3,
                   retry_delay=timedelta(minutes=10)); op config `retry_delay_seconds`, `max_retries`.
    fallback_sync  runs only if primary_sync failed after its retries (TriggerRule.ALL_FAILED), through
                   a real alternative into the same destination:
                   - the Airbyte server answers: the backup connection AIRBYTE_STRIPE_BACKUP_CONNECTION_ID;
                   - the Airbyte server is unreachable: the embedded runner running
                     AIRBYTE_STRIPE_FALLBACK_CONNECTOR with the secret AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG.
    validate_sync  runs if none failed and at least one succeeded (NONE_FAILED_MIN_ONE_SUCCESS): the
                   min_records checks of the streams, on the data of whichever path produced it.

How Airflow's trigger rules become Dagster's: a Dagster run fails as soon as a step fails, while
the DAG's primary_sync may fail and the run still succeed. So primary_sync handles its own retries
(`RetryRequested`, the configured delay apart) and, once they are spent, returns its failure as its
optional `failed` output instead of raising. fallback_sync takes that output as input, so it is
skipped when the primary succeeded. validate_sync fans in the optional `synced` outputs of both:
Dagster runs a fan-in step when at least one source produced a value and never after a failed
step. Both failed → fallback_sync's step fails, validate_sync does not run, the run fails.

Which path produced the data is on every materialization (`resilient_sync/path`), on the run
(tag `resilient_sync/path`) and in the log.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from airbyte_platform.airflow_compat.dags import DagSpec
from airbyte_platform.airflow_compat.fallback import (
    BACKUP_VARIABLE,
    CONNECTION_NAME,
    CONNECTOR_VARIABLE,
    FALLBACK,
    choose_fallback,
    resilience_plan,
)
from airbyte_platform.core.catalog import ConnectionSpec, connection_named
from airbyte_platform.core.min_records import CHECK_NAME as MIN_RECORDS
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG, sync_op_tags, sync_pool
from airbyte_platform.settings import Settings

PRIMARY, VALIDATE = "primary_sync", "validate_sync"
PATH_KEY = "resilient_sync/path"  # metadata key and run tag: which path produced the data
PATH_PRIMARY = "primary"


@dataclass(frozen=True)
class SyncedData:
    """What a successful path hands to validate_sync: who produced the data and its checks' results."""

    path: str
    connection_id: str
    checks: tuple[dg.AssetCheckEvaluation, ...]


@dataclass(frozen=True)
class PrimaryFailure:
    attempts: int
    error: str


@dataclass(frozen=True)
class _WholeConnection:
    """What the `airbyte` resources' `sync_connection` reads from an asset context, for an op that
    syncs every stream of the connection and evaluates every stream's check."""

    log: Any
    selected_asset_keys: frozenset[dg.AssetKey]
    selected_asset_check_keys: frozenset[dg.AssetCheckKey]


def validated_checks(connection: ConnectionSpec | None = None) -> set[dg.AssetCheckKey]:
    """The checks validate_sync evaluates: min_records on every stream of the connection."""
    connection = connection or connection_named(CONNECTION_NAME)
    return {dg.AssetCheckKey(connection.asset_key(s), MIN_RECORDS) for s in connection.streams}


def _sync(
    context: dg.OpExecutionContext, resource: Any, target: Any, connection: ConnectionSpec, path: str
) -> tuple[list[dg.AssetMaterialization], tuple[dg.AssetCheckEvaluation, ...]]:
    """Sync every stream through `resource`; nothing is reported before the whole sync succeeded."""
    whole = _WholeConnection(
        log=context.log,
        selected_asset_keys=frozenset(connection.asset_key(s) for s in connection.streams),
        selected_asset_check_keys=frozenset(validated_checks(connection)),
    )
    materializations: list[dg.AssetMaterialization] = []
    checks: list[dg.AssetCheckEvaluation] = []
    for event in resource.sync_connection(whole, target):
        if isinstance(event, dg.AssetCheckResult):
            assert event.asset_key is not None and event.check_name is not None
            checks.append(
                dg.AssetCheckEvaluation(
                    asset_key=event.asset_key,
                    check_name=event.check_name,
                    passed=event.passed,
                    metadata={**event.metadata, PATH_KEY: path},
                    severity=event.severity,
                    description=event.description,
                    blocking=True,  # min_records is a blocking check (quality/min_records.py)
                )
            )
        else:
            assert event.asset_key is not None
            materializations.append(
                dg.AssetMaterialization(
                    asset_key=event.asset_key,
                    description=f"resilient_sync: data produced by the {path.replace('_', ' ')} path.",
                    metadata={**(event.metadata or {}), PATH_KEY: path},
                )
            )
    return materializations, tuple(checks)


def _record_path(context: dg.OpExecutionContext, path: str, how: str) -> None:
    context.log.info(f"resilient_sync: the data of {CONNECTION_NAME} was produced by {path} ({how})")
    context.instance.add_run_tags(context.run_id, {PATH_KEY: path})


def build_resilient_sync_job(settings: Settings, dag: DagSpec) -> dg.JobDefinition:
    plan = resilience_plan(settings)
    connection = plan.connection
    connection_id = settings.connection_ids.get(connection.connection_id_variable, connection.name)
    retries = dag.retry_policy.max_retries if dag.retry_policy else 3
    delay = float(dag.retry_policy.delay or 0) if dag.retry_policy else 600.0
    tags = {**sync_op_tags(connection_id, connection.name), "kind": "airbyte"}
    pool = sync_pool(f"airbyte_sync_{connection.name}")  # one sync of the connection at a time

    @dg.op(
        name=PRIMARY,
        description=f"Sync {connection.name}, retried {retries} times {delay:g} s apart; once the retries are "
        "spent, hands the failure to fallback_sync instead of failing the run.",
        out={
            "synced": dg.Out(SyncedData, is_required=False),
            "failed": dg.Out(PrimaryFailure, is_required=False),
        },
        config_schema={
            "retry_delay_seconds": dg.Field(
                float, default_value=delay, description="Seconds between two attempts (the seeds: 600)."
            ),
            "max_retries": dg.Field(
                int, default_value=retries, description="Retries after the first attempt."
            ),
        },
        required_resource_keys={"airbyte"},
        tags=tags,
        pool=pool,
    )
    def primary_sync(context: dg.OpExecutionContext):  # unannotated: Dagster reads outputs from `out`
        if plan.primary is None:
            raise dg.Failure(
                description=f"{connection.connection_id_variable} is not set: resilient_sync has no "
                f"{connection.name} connection to sync in this deployment",
                allow_retries=False,
            )
        max_retries = int(context.op_config["max_retries"])
        attempt = context.retry_number + 1
        try:
            materializations, checks = _sync(
                context, context.resources.airbyte, plan.primary, connection, PATH_PRIMARY
            )
        except Exception as exc:
            retryable = getattr(exc, "allow_retries", True) is not False
            if retryable and context.retry_number < max_retries:
                wait = float(context.op_config["retry_delay_seconds"])
                context.log.warning(
                    f"primary_sync attempt {attempt} of {max_retries + 1} failed; next attempt in {wait:g} s: {exc}"
                )
                raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=wait) from exc
            why = "after every retry" if retryable else "with an error retries cannot fix"
            context.log.error(
                f"primary_sync failed {why} (attempt {attempt}); fallback_sync takes over: {exc}"
            )
            yield dg.Output(
                PrimaryFailure(attempts=attempt, error=str(exc)),
                "failed",
                metadata={"attempts": attempt, "error": str(exc)[:2000]},
            )
            return
        yield from materializations
        _record_path(context, PATH_PRIMARY, f"connection {plan.primary_id}, attempt {attempt}")
        yield dg.Output(
            SyncedData(PATH_PRIMARY, plan.primary_id, checks), "synced", metadata={PATH_KEY: PATH_PRIMARY}
        )

    @dg.op(
        name=FALLBACK,
        description="Only after primary_sync failed for good: the backup connection on the Airbyte server "
        f"({BACKUP_VARIABLE}), or, when the server is unreachable, the embedded runner ({CONNECTOR_VARIABLE}).",
        out={"synced": dg.Out(SyncedData)},
        required_resource_keys={"airbyte", "destinations"},
        tags=tags,
        pool=pool,
    )
    def fallback_sync(context: dg.OpExecutionContext, failed: PrimaryFailure):
        context.log.info(f"primary_sync failed after {failed.attempts} attempts: {failed.error}")
        path, resource, target, synced_id = choose_fallback(context, plan)
        materializations, checks = _sync(context, resource, target, connection, path)
        yield from materializations
        _record_path(context, path, f"{synced_id}, after primary_sync failed")
        yield dg.Output(SyncedData(path, synced_id, checks), "synced", metadata={PATH_KEY: path})

    @dg.op(
        name=VALIDATE,
        description="The min_records checks of every stream, on the data of whichever path produced it "
        "(none failed, at least one succeeded).",
        ins={"results": dg.In(description="The synced output of primary_sync or fallback_sync (fan-in).")},
        out={"sync_stats": dg.Out(dict, description="What the seeds pushed to XCom as sync_stats.")},
        tags={"kind": "dagster"},
    )
    def validate_sync(context: dg.OpExecutionContext, results: list):  # unannotated: a generator
        produced: Sequence[SyncedData] = results
        # Exactly one path produced the data: fallback_sync runs only when primary_sync did not.
        result = produced[-1]
        context.log.info(f"validating the data produced by the {result.path} path ({result.connection_id})")
        for check in result.checks:
            context.log_event(check)
        failing = [c for c in result.checks if not c.passed]
        stats = {
            "path": result.path,
            "connection_id": result.connection_id,
            "checks": {c.asset_key.to_user_string(): c.passed for c in result.checks},
            "passed": not failing,
        }
        # Yielded before any failure: the logged check evaluations are recorded with it either way.
        yield dg.Output(stats, "sync_stats", metadata={PATH_KEY: result.path, "passed": not failing})
        if failing:
            raise dg.Failure(
                description="min_records failed on "
                + ", ".join(f"{c.asset_key.to_user_string()} ({c.description})" for c in failing)
                + f"; the data came from the {result.path} path",
                allow_retries=False,
            )

    @dg.graph(name=dag.dag_id, description=dag.description)
    def resilient_sync() -> None:
        synced, failed = primary_sync()
        validate_sync([synced, fallback_sync(failed)])

    return resilient_sync.to_job(
        name=dag.dag_id,
        description=f"{dag.description} (Airflow DAG `{dag.dag_id}`; tasks: {', '.join(dag.tasks)})",
        tags={"airflow/dag_id": dag.dag_id, SYNC_RUN_TAG: "true", **dag.tags},
        # One chain: steps in the run's process (see jobs._executor); retries wait in that process.
        executor_def=dg.in_process_executor,
    )
