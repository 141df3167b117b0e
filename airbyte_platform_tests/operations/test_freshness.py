"""Freshness policies evaluated by Dagster's own freshness daemon (one iteration, in process, on a
real instance, with a frozen clock), and exported by the metrics collector."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.freshness import FreshnessDaemon
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.definitions import build_definitions
from airbyte_platform.operations.metrics.collector import PlatformCollector
from airbyte_platform.settings import MetricsSettings, load_settings
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

LOCATION = Path(__file__).parent / "freshness_location.py"
SYNCED_AT = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


def _evaluate_freshness(instance: dg.DagsterInstance) -> None:
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            python_file=str(LOCATION), attribute="defs", working_directory=str(LOCATION.parent)
        )
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as context:
        list(FreshnessDaemon().run_iteration(context))


def _states(instance: dg.DagsterInstance) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(instance, MetricsSettings()))
    return {
        (sample.labels["asset"], sample.labels["state"]): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == "airbyte_platform_asset_freshness_state"
    }


def test_every_declared_stream_has_its_connection_s_window_in_both_modes(tmp_path):
    local = build_definitions(load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)})).resolve_asset_graph()
    prod = build_definitions(
        load_settings(
            {**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(tmp_path), "AIRBYTE_DISCOVERY": "off"}
        )
    ).resolve_asset_graph()
    stripe = connection_named("stripe_to_s3")
    for graph in (local, prod):
        policy = graph.get(stripe.asset_key("charges")).freshness_policy
        assert policy.fail_window.to_timedelta() == dt.timedelta(hours=stripe.freshness_hours)
    # Transforms follow their syncs by automation: no policy of their own.
    assert local.get(dg.AssetKey(["processed", "stripe"])).freshness_policy is None


def test_the_daemon_marks_a_stream_stale_after_its_window_and_the_exporter_says_so():
    stripe = connection_named("stripe_to_s3")
    charges, refunds = stripe.asset_key("charges"), stripe.asset_key("refunds")
    window = dt.timedelta(hours=stripe.freshness_hours)
    with dg.instance_for_test() as instance:
        with freeze_time(SYNCED_AT):
            instance.report_runless_asset_event(dg.AssetMaterialization(charges))
        with freeze_time(SYNCED_AT + window - dt.timedelta(hours=2)):
            instance.report_runless_asset_event(dg.AssetMaterialization(refunds))
        with freeze_time(SYNCED_AT + window + dt.timedelta(minutes=5)):
            _evaluate_freshness(instance)
        states = _states(instance)
    assert states[(charges.to_user_string(), "FAIL")] == 1.0
    assert states[(refunds.to_user_string(), "PASS")] == 1.0
    assert states[(refunds.to_user_string(), "FAIL")] == 0.0
