"""`check_cdc_health` and `check_replication_lag` on every asset of the CDC connection.

The Airflow DAG `postgres_cdc_replication` ran these two tasks; here they are asset checks named
after its task ids, so the job of that name (airflow_compat) selects them, runs them on its
schedule and on demand, and their history sits on the assets they watch. One op reads the slot
once and yields both verdicts (health first, as the DAG ran them), so they always agree.
"""

# No `from __future__ import annotations`: Dagster inspects the decorated functions' annotations
# (context type, resource parameters) at definition time.
import time
from collections.abc import Iterator

import dagster as dg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.events.cdc.assessment import Verdict, assess_health, assess_lag, unreachable
from airbyte_platform.events.cdc.resource import CdcSourceResource, CdcSourceUnreachable
from airbyte_platform.events.routes import CDC_CONNECTION
from airbyte_platform.events.sensors.asset_history import last_materialized_at

CHECK_CDC_HEALTH = "check_cdc_health"
CHECK_REPLICATION_LAG = "check_replication_lag"
CDC_CHECK_NAMES = (CHECK_CDC_HEALTH, CHECK_REPLICATION_LAG)


def cdc_asset_keys() -> list[dg.AssetKey]:
    connection = connection_named(CDC_CONNECTION)
    return [connection.asset_key(stream) for stream in connection.streams]


def evaluate_slot(cdc_source: CdcSourceResource, instance: dg.DagsterInstance) -> tuple[Verdict, Verdict]:
    """(health, lag) of the slot now; an unreachable source fails both with the reason."""
    try:
        reading = cdc_source.read_slot()
    except CdcSourceUnreachable as exc:
        verdict = unreachable(cdc_source.slot_name, str(exc))
        return verdict, verdict
    lag = assess_lag(
        reading,
        max_lag_seconds=cdc_source.max_lag_seconds,
        max_lag_bytes=cdc_source.max_lag_bytes,
        last_sync_at=last_materialized_at(instance, cdc_asset_keys()),
        now=time.time(),
    )
    return assess_health(reading), lag


def check_result(key: dg.AssetCheckKey, verdict: Verdict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.WARN if verdict.severity == "WARN" else dg.AssetCheckSeverity.ERROR,
        description=verdict.message,
        metadata={**verdict.metadata, "verdict": verdict.code},
    )


def build_cdc_checks() -> list[dg.AssetChecksDefinition]:
    keys = cdc_asset_keys()
    specs = [
        dg.AssetCheckSpec(
            CHECK_CDC_HEALTH,
            asset=key,
            description="The CDC replication slot exists, is logical (pgoutput), keeps its WAL and has a "
            "consumer (Airflow task check_cdc_health).",
        )
        for key in keys
    ] + [
        dg.AssetCheckSpec(
            CHECK_REPLICATION_LAG,
            asset=key,
            description="The CDC slot is within CDC_MAX_LAG_SECONDS (300) and CDC_MAX_LAG_BYTES of the "
            "source (Airflow task check_replication_lag, max_lag_seconds=300).",
        )
        for key in keys
    ]

    @dg.multi_asset_check(
        specs=specs,
        name="cdc_slot_checks",
        can_subset=True,
        description="Reads the CDC source's replication slot once and reports slot health and lag.",
    )
    def cdc_slot_checks(
        context: dg.AssetCheckExecutionContext, cdc_source: CdcSourceResource
    ) -> Iterator[dg.AssetCheckResult]:
        health, lag = evaluate_slot(cdc_source, context.instance)
        selected = sorted(
            context.selected_asset_check_keys, key=lambda k: (CDC_CHECK_NAMES.index(k.name), str(k))
        )
        for check_key in selected:
            verdict = health if check_key.name == CHECK_CDC_HEALTH else lag
            if not verdict.passed:
                context.log.warning(
                    f"{check_key.name} on {check_key.asset_key.to_user_string()}: {verdict.message}"
                )
            yield check_result(check_key, verdict)

    return [cdc_slot_checks]
