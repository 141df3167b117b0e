"""What a prod deployment has not enabled is left out of the code location, and said once.

A team moves one DAG at a time: an integration whose variables are all unset (settings.py,
INTEGRATION_VARIABLES) and a declared connection without its id are disabled. Their assets, their
checks, the jobs that need them (with their schedules and sensors) are not in the definitions, so
nothing shows in the UI that could only fail. Everything else stays exactly as with everything set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

from airbyte_platform.airflow_compat.dags import DAG_IDS, dag_named
from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC
from airbyte_platform.settings import INTEGRATION_SWITCH, INTEGRATION_VARIABLES, Settings

# Assets of an integration carry its kind (dagster's `kinds`): a disabled one takes its assets away.
INTEGRATION_KINDS = {"databricks": "databricks", "snowflake": "snowflake"}
# Sensors that need an integration: the receiver's inbox (webhooks), the replication slot (cdc).
WEBHOOK_SENSOR_SUFFIX = "_webhook_sensor"
WEBHOOK_SENSORS = {"airbyte_notification_sensor"}
CDC_SENSORS = {"postgres_cdc_lag_sensor"}
TRANSFORM_SENSORS = {"transforms_automation_sensor"}
CDC_CHECKS = {"check_cdc_health", "check_replication_lag"}


def _disabled_kinds(settings: Settings) -> set[str]:
    return {kind for part, kind in INTEGRATION_KINDS.items() if not settings.is_enabled(part)}


def _keeps(assets: dg.AssetsDefinition, disabled_kinds: set[str]) -> bool:
    kinds = {kind for spec in assets.specs for kind in (spec.kinds or ())}
    return not (kinds & disabled_kinds)


def enabled_assets(settings: Settings, assets: Iterable[object]) -> list[object]:
    disabled = _disabled_kinds(settings)
    return [a for a in assets if not isinstance(a, dg.AssetsDefinition) or _keeps(a, disabled)]


def enabled_checks(
    settings: Settings, checks: Iterable[object], asset_keys: set[dg.AssetKey]
) -> list[object]:
    """Checks whose every asset is still defined (a check on a left-out asset could only fail),
    without the replication checks when CDC is off."""
    kept = []
    for check in checks:
        keys = set(getattr(check, "check_keys", ()))
        if keys and not {key.asset_key for key in keys} <= asset_keys:
            continue
        if keys and {key.name for key in keys} <= CDC_CHECKS and not settings.is_enabled("cdc"):
            continue
        kept.append(check)
    return kept


def enabled_sensor(settings: Settings, sensor: dg.SensorDefinition, jobs: set[str]) -> bool:
    name = sensor.name
    if (name.endswith(WEBHOOK_SENSOR_SUFFIX) or name in WEBHOOK_SENSORS) and not settings.is_enabled(
        "webhooks"
    ):
        return False
    if name in CDC_SENSORS and not settings.is_enabled("cdc"):
        return False
    if name in TRANSFORM_SENSORS and not (
        settings.is_enabled("databricks") or settings.is_enabled("snowflake")
    ):
        return False
    targeted = {target.job_name for target in sensor.targets if getattr(target, "job_name", None)}
    return targeted <= jobs


def runnable_job(
    job: dg.UnresolvedAssetJobDefinition,
    asset_keys: set[dg.AssetKey],
    check_keys: set[dg.AssetCheckKey],
    any_sync: bool,
) -> bool:
    """A job named after a DAG runs when every asset its tasks name is defined (checks-only: any of
    its checks; airbyte_event_driven_sync: any connection, it syncs the one its run config names)."""
    if job.name not in DAG_IDS:
        return True
    if job.name == AIRBYTE_EVENT_DRIVEN_SYNC:
        return any_sync
    dag = dag_named(job.name)
    if dag.checks_only:
        names = {name for task in dag.tasks.values() for name in task.check_names}
        return any(key.name in names for key in check_keys)
    return set(dag.asset_keys) <= asset_keys


def enablement_summary(settings: Settings, job_names: Sequence[str]) -> str:
    """One line: what is on and off (and how to switch it on), and the DAG jobs left out."""
    connections = declared_connections()
    on = [c for c in connections if settings.connection_enabled(c.connection_id_variable)]
    enabled = [f"airbyte ({settings.mode}, {len(on)} of {len(connections)} declared connections)"]
    disabled = []
    for part in INTEGRATION_VARIABLES:
        if settings.is_enabled(part):
            enabled.append(part)
        else:
            disabled.append(f"{part} (set {INTEGRATION_SWITCH[part]} to enable)")
    disabled += [
        f"connection {c.name} (set {c.connection_id_variable} to enable)" for c in connections if c not in on
    ]
    left_out = [dag_id for dag_id in DAG_IDS if dag_id not in job_names]
    return (
        f"airbyte_platform {settings.mode}: enabled: {', '.join(enabled)}; "
        f"disabled: {', '.join(disabled) or 'none'}"
        + (f"; jobs left out (they need a disabled part): {', '.join(left_out)}" if left_out else "")
    )
