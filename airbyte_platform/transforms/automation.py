"""Declarative automation of the transforms: Databricks and Snowflake assets follow their syncs.

`eager()` requests an asset when a dependency is updated (by any run or runless event: a webhook,
the Airbyte notification sensor, a UI click, a schedule), skipping updates made by a run that
already targeted the asset (the Airflow-named jobs chain their own transforms, so they are not run
twice). It is held back while a dependency's latest blocking check (min_records, gx_suite,
processed/stripe's checks) has failed: a bad sync stops here, as the Airflow DAG stopped at its
validation task.

Applied to every asset of the transform groups in one place (`with_transform_automation`), so the
asset modules stay free of scheduling concerns.
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster_shared.utils.warnings import PreviewWarning

from airbyte_platform.settings import Settings

TRANSFORM_GROUPS = ("databricks_transforms", "snowflake_analytics")
SENSOR_NAME = "transforms_automation_sensor"

# Not `all_deps_blocking_checks_passed()`: it wants every upstream blocking check *passed*, and a
# sync run outside Dagster (reported by the Airbyte notification sensor) has no check results, nor
# has a parent requested in the same tick whose checks are separate definitions (processed/stripe's),
# so neither would ever refresh downstream. A *failed* blocking check is what must stop the refresh;
# inside a run, Dagster's blocking checks still stop a child whose parent's check fails there.
NO_FAILED_UPSTREAM_BLOCKING_CHECK = ~dg.AutomationCondition.any_deps_match(
    dg.AutomationCondition.any_checks_match(dg.AutomationCondition.check_failed(), blocking_only=True)
).with_label("any_upstream_blocking_check_failed")
TRANSFORM_CONDITION = (dg.AutomationCondition.eager() & NO_FAILED_UPSTREAM_BLOCKING_CHECK).with_label(
    "eager, unless an upstream blocking check failed"
)


def transform_selection() -> dg.AssetSelection:
    return dg.AssetSelection.groups(*TRANSFORM_GROUPS)


def with_transform_automation(defs: dg.Definitions) -> dg.Definitions:
    """`defs` (the transform assets, and only them) with the condition on every asset."""
    # map_asset_specs is marked preview; chosen on purpose (one place, no edits to the asset
    # decorators), so its notice is kept out of every process that loads the code location.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return defs.map_asset_specs(
            func=lambda spec: spec.replace_attributes(automation_condition=TRANSFORM_CONDITION)
        )


def build_transform_automation_sensor(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    """Evaluates the transforms' conditions; running by default in prod, stopped locally (like the schedules)."""
    return dg.AutomationConditionSensorDefinition(
        SENSOR_NAME,
        target=transform_selection(),
        default_status=dg.DefaultSensorStatus.STOPPED
        if settings.is_local
        else dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
        description="Refreshes the Databricks and Snowflake assets after their upstream syncs land "
        "and the syncs' blocking checks passed (transforms/automation.py).",
    )
