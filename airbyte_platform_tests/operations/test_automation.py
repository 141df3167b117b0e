"""Declarative automation of the transforms, evaluated with Dagster's `evaluate_automation_conditions`
on a real instance: a sync that no job chains (a runless report, as the Airbyte notification sensor
makes, or a run that selects only the sync) requests the transforms downstream, once, and only
after the sync's blocking checks passed."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.definitions import build_definitions
from airbyte_platform.settings import load_settings
from airbyte_platform.transforms.automation import SENSOR_NAME
from airbyte_platform_tests.operations.conftest import lake_sync_run, new_home

PROCESSED_STRIPE = dg.AssetKey(["processed", "stripe"])
STRIPE_REVENUE = dg.AssetKey(["snowflake", "stripe_revenue"])
REVENUE_ANALYTICS = dg.AssetKey(["snowflake", "revenue_analytics"])


def _defs(home: Path) -> dg.Definitions:
    return build_definitions(load_settings({"AIRBYTE_PLATFORM_HOME": str(home)}))


TRANSFORMS = (
    PROCESSED_STRIPE,
    STRIPE_REVENUE,
    REVENUE_ANALYTICS,
    dg.AssetKey(["snowflake", "customers_unified"]),
    dg.AssetKey(["snowflake", "sales_pipeline"]),
)


def _requested(result: dg.EvaluateAutomationConditionsResult) -> set[dg.AssetKey]:
    return {key for key in TRANSFORMS if result.get_num_requested(key)}


def _evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, cursor=None):
    return dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)


def test_a_sync_reported_outside_any_job_refreshes_revenue_analytics_once(tmp_path):
    defs = _defs(tmp_path)
    stripe_pg = connection_named("stripe_to_postgres")
    with dg.instance_for_test() as instance:
        first = _evaluate(defs, instance)
        assert _requested(first) == set()
        # What the Airbyte notification sensor records for a sync run outside Dagster.
        for stream in ("charges", "invoices"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(stripe_pg.asset_key(stream), metadata={"airbyte/job_id": "42"})
            )
        second = _evaluate(defs, instance, first.cursor)
        assert REVENUE_ANALYTICS in _requested(second)
        assert PROCESSED_STRIPE not in _requested(second)  # its deps are the lake streams, not updated
        third = _evaluate(defs, instance, second.cursor)
        assert REVENUE_ANALYTICS not in _requested(third)  # handled: not requested again


def test_a_sync_run_that_names_no_transform_requests_them_after_its_checks_passed(platform_homes):
    home = new_home(platform_homes)
    defs = _defs(home)
    with dg.instance_for_test() as instance:
        first = _evaluate(defs, instance)
        assert lake_sync_run(home, instance, records=300).success
        second = _evaluate(defs, instance, first.cursor)
        assert {PROCESSED_STRIPE, STRIPE_REVENUE} <= _requested(second)
        assert REVENUE_ANALYTICS not in _requested(second)


def test_a_sync_whose_blocking_checks_failed_requests_nothing(platform_homes):
    home = new_home(platform_homes)
    defs = _defs(home)
    with dg.instance_for_test() as instance:
        first = _evaluate(defs, instance)
        assert not lake_sync_run(home, instance, records=20).success  # min_records failed
        second = _evaluate(defs, instance, first.cursor)
        assert PROCESSED_STRIPE not in _requested(second)
        assert STRIPE_REVENUE not in _requested(second)


def test_the_automation_sensor_runs_in_prod_and_is_stopped_locally(tmp_path):
    from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

    local = _defs(tmp_path).get_sensor_def(SENSOR_NAME)
    prod = build_definitions(
        load_settings(
            {**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(tmp_path), "AIRBYTE_DISCOVERY": "off"}
        )
    ).get_sensor_def(SENSOR_NAME)
    assert local.default_status == dg.DefaultSensorStatus.STOPPED
    assert prod.default_status == dg.DefaultSensorStatus.RUNNING
