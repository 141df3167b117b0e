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

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from airbyte_platform.airflow_compat.dags import DagSpec
from airbyte_platform.ingestion.catalog import ConnectionSpec, LocalStandIn, connection_named
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG, sync_op_tags, sync_pool
from airbyte_platform.quality.min_records import CHECK_NAME as MIN_RECORDS
from airbyte_platform.settings import Settings

CONNECTION_NAME = "stripe_to_postgres"  # AIRBYTE_STRIPE_PG_CONNECTION_ID in the seeds' DAG
PRIMARY, FALLBACK, VALIDATE = "primary_sync", "fallback_sync", "validate_sync"
PATH_KEY = "resilient_sync/path"  # metadata key and run tag: which path produced the data
PATH_PRIMARY, PATH_BACKUP, PATH_EMBEDDED = "primary", "backup_connection", "embedded_runner"
BACKUP_VARIABLE = "AIRBYTE_STRIPE_BACKUP_CONNECTION_ID"
CONNECTOR_VARIABLE = "AIRBYTE_STRIPE_FALLBACK_CONNECTOR"
CONFIG_VARIABLE = "AIRBYTE_STRIPE_FALLBACK_SOURCE_CONFIG"


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
class ResiliencePlan:
    """Built when the code location loads: what each path syncs, in this mode."""

    connection: ConnectionSpec
    local: bool
    primary: Any  # local: the ConnectionSpec (embedded runner); prod: the SyncTarget (Airbyte server)
    backup: Any | None  # prod: the backup connection's SyncTarget, when its variable is set
    embedded: ConnectionSpec | None  # the connection read by the fallback connector, when one is set
    embedded_config_var: str | None
    connectors_dir: Path

    @property
    def primary_id(self) -> str:
        return self.primary.name if self.local else self.primary.connection_id


@dataclass(frozen=True)
class _WholeConnection:
    """What the `airbyte` resources' `sync_connection` reads from an asset context, for an op that
    syncs every stream of the connection and evaluates every stream's check."""

    log: Any
    selected_asset_keys: frozenset[dg.AssetKey]
    selected_asset_check_keys: frozenset[dg.AssetCheckKey]


def resilience_plan(settings: Settings, connection: ConnectionSpec | None = None) -> ResiliencePlan:
    connection = connection or connection_named(CONNECTION_NAME)
    fallback = settings.resilient_sync
    embedded = None
    if fallback.embedded_connector:
        embedded = dataclasses.replace(
            connection,
            local=LocalStandIn(
                connector=fallback.embedded_connector,
                # Locally the stand-in's config applies unless a fallback config is given.
                config=dict(connection.local.config) if settings.is_local else {},
                inactivity_timeout_seconds=connection.local.inactivity_timeout_seconds,
            ),
        )
    if settings.is_local:
        primary, backup = connection, None
    else:
        # The Airbyte client and targets are prod-only imports (dagster-airbyte): not paid locally.
        from airbyte_platform.ingestion.airbyte_server.assets import declared_target

        if connection.connection_id_variable not in settings.connection_ids:
            # The connection is not set up in this deployment: the job loads, and says so when run.
            return _unconfigured_plan(settings, connection, embedded)
        primary = declared_target(connection, settings, None)
        backup = (
            dataclasses.replace(
                primary,
                connection_id=fallback.backup_connection_id,
                name=f"{connection.name} (backup)",
                op_name=FALLBACK,
                id_source=BACKUP_VARIABLE,
            )
            if fallback.backup_connection_id
            else None
        )
    return ResiliencePlan(
        connection=connection,
        local=settings.is_local,
        primary=primary,
        backup=backup,
        embedded=embedded,
        embedded_config_var=fallback.embedded_config_var,
        connectors_dir=settings.connectors_dir,
    )


def _unconfigured_plan(
    settings: Settings, connection: ConnectionSpec, embedded: ConnectionSpec | None
) -> ResiliencePlan:
    fallback = settings.resilient_sync
    return ResiliencePlan(
        connection=connection,
        local=False,
        primary=None,
        backup=None,
        embedded=embedded,
        embedded_config_var=fallback.embedded_config_var,
        connectors_dir=settings.connectors_dir,
    )


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


def _unreachable(exc: BaseException) -> bool:
    """True when the error says the Airbyte server could not be reached (transport errors, or
    transient answers that outlasted every retry), as opposed to Airbyte answering with an error."""
    from airbyte_platform.ingestion.airbyte_server.errors import (
        AirbyteRetriesExhaustedError,
        AirbyteTransientError,
        is_transient_exception,
    )

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AirbyteRetriesExhaustedError | AirbyteTransientError) or is_transient_exception(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _server_answers(context: dg.OpExecutionContext, airbyte: Any, target: Any) -> bool:
    """Probe the Airbyte server with the connection the fallback would sync (a 4xx is an answer)."""
    try:
        airbyte.get_client().get_connection(target.connection_id, not_found_hint=target.not_found_hint)
    except Exception as exc:
        if _unreachable(exc):
            context.log.warning(f"Airbyte server unreachable: {exc}")
            return False
        context.log.warning(f"Airbyte server answers, with an error: {exc}")
    return True


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
        path, resource, target, synced_id = _choose_fallback(context, plan)
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


def _choose_fallback(context: dg.OpExecutionContext, plan: ResiliencePlan) -> tuple[str, Any, Any, str]:
    """(path, resource, target, id) of the alternative for this failure; a Failure naming what to set."""
    if plan.local:
        if plan.embedded is None:
            raise dg.Failure(
                description=f"primary_sync failed and, in local mode, it already is the embedded runner: no "
                f"alternative is configured. Set {CONNECTOR_VARIABLE} (e.g. pypi:airbyte-source-stripe==5.14.0, "
                f"its config in {CONFIG_VARIABLE}) to fall back to another connector.",
                allow_retries=False,
            )
        return (
            PATH_EMBEDDED,
            _embedded_resource(context, plan),
            _embedded_connection(plan),
            plan.embedded.local.connector,
        )
    airbyte = context.resources.airbyte
    if _server_answers(context, airbyte, plan.backup or plan.primary):
        if plan.backup is None:
            raise dg.Failure(
                description="primary_sync failed and the Airbyte server answers, but no backup connection is "
                f"configured: set {BACKUP_VARIABLE} to the id of a connection into the same destination "
                f"(the embedded fallback, {CONNECTOR_VARIABLE}, is used only when the server is unreachable).",
                allow_retries=False,
            )
        return PATH_BACKUP, airbyte, plan.backup, plan.backup.connection_id
    if plan.embedded is None:
        raise dg.Failure(
            description="primary_sync failed and the Airbyte server is unreachable, but no embedded fallback "
            f"is configured: set {CONNECTOR_VARIABLE} (e.g. pypi:airbyte-source-stripe==5.14.0) and "
            f"{CONFIG_VARIABLE} (the source's config, JSON) to sync with the embedded runner.",
            allow_retries=False,
        )
    return (
        PATH_EMBEDDED,
        _embedded_resource(context, plan),
        _embedded_connection(plan),
        plan.embedded.local.connector,
    )


def _embedded_resource(context: dg.OpExecutionContext, plan: ResiliencePlan) -> Any:
    from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource

    # The destinations resource of the deployment: the same lake and PostgreSQL Airbyte writes to.
    return EmbeddedAirbyteResource(
        destinations=context.resources.destinations, connectors_dir=str(plan.connectors_dir)
    )


def _embedded_connection(plan: ResiliencePlan) -> ConnectionSpec:
    """The connection with the fallback connector and its config (the secret read only now, by EnvVar)."""
    assert plan.embedded is not None
    if plan.embedded_config_var is None:
        return plan.embedded
    raw = dg.EnvVar(plan.embedded_config_var).get_value()
    try:
        config = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        # The value is a secret: say where it is wrong, never what it holds.
        raise dg.Failure(
            description=f"{plan.embedded_config_var} is not valid JSON (line {exc.lineno}, column {exc.colno})",
            allow_retries=False,
        ) from None
    if not isinstance(config, dict):
        raise dg.Failure(description=f"{plan.embedded_config_var} must be a JSON object", allow_retries=False)
    return dataclasses.replace(plan.embedded, local=dataclasses.replace(plan.embedded.local, config=config))
