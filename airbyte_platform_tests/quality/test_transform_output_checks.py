"""Checks on the transform outputs: processed/stripe (blocking) and the Snowflake tables, run as
Dagster checks over a real lake folder (Parquet) and fakesnow, on consistent and on broken outputs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.ingestion.local_defs import LocalDestinationsResource
from airbyte_platform.quality.processed_stripe_checks import processed_stripe_checks
from airbyte_platform.quality.snowflake_checks import snowflake_table_checks
from airbyte_platform.quality.table_facts import raw_stripe_net
from airbyte_platform.transforms.databricks.assets import PROCESSED_STRIPE, stripe_paths
from airbyte_platform.transforms.snowflake.loading import replace_table
from airbyte_platform.transforms.snowflake.local_snowflake import LocalSnowflakeResource
from airbyte_platform_tests.transforms.stripe_rows import CHARGES, REFUNDS

STRIPE_REVENUE = dg.AssetKey(["snowflake", "stripe_revenue"])
SALES_PIPELINE = dg.AssetKey(["snowflake", "sales_pipeline"])


def _write(folder: str, rows: list[dict]) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), f"{folder}/part-0.parquet")


def _daily(rows: list[tuple[str, str, int]]) -> list[dict]:
    return [{"day": day, "currency": currency, "net_amount": net} for day, currency, net in rows]


def _lake(
    root: Path, daily: list[dict], customers: list[dict], charges: list[dict] = CHARGES
) -> DestinationsResource:
    lake_root = str(root / "lake")
    s3_path, output_path = stripe_paths(lake_root)
    _write(f"{s3_path}/charges", charges)
    _write(f"{s3_path}/refunds", REFUNDS)
    _write(f"{output_path}/daily_revenue", daily)
    _write(f"{output_path}/customer_revenue", customers)
    return LocalDestinationsResource(lake_root=lake_root, home=str(root))


# What stripe_transform computes from CHARGES/REFUNDS: usd 1000 - 300 refunded, eur 700.
CONSISTENT_DAILY = _daily([("1970-01-02", "usd", 700), ("1970-01-03", "eur", 700)])
CONSISTENT_CUSTOMERS = [
    {"customer": "cus_1", "currency": "usd", "net_amount": 700},
    {"customer": "cus_2", "currency": "eur", "net_amount": 700},
]


def _run(checks: dg.AssetChecksDefinition, resources: dict, selection: dg.AssetSelection) -> dict:
    defs = dg.Definitions(
        asset_checks=[checks],
        jobs=[dg.define_asset_job("checks", selection=selection)],
        resources=resources,
    )
    result = defs.resolve_job_def("checks").execute_in_process(raise_on_error=False)
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}


def test_raw_net_counts_succeeded_charges_less_live_refunds_once_per_id():
    charges = pd.DataFrame([*CHARGES, CHARGES[0]])  # ch_1 synced twice (the lake appends)
    refunds = pd.DataFrame(
        [*REFUNDS, {"id": "re_2", "charge": "ch_3", "amount": 50, "status": "failed", "created": 1}]
    )
    net, duplicates = raw_stripe_net(charges, refunds)
    assert net == {"usd": 700, "eur": 700}
    assert duplicates == 1


def test_consistent_processed_stripe_passes_every_check(tmp_path):
    destinations = _lake(tmp_path, CONSISTENT_DAILY, CONSISTENT_CUSTOMERS)
    results = _run(
        processed_stripe_checks,
        {"destinations": destinations},
        dg.AssetSelection.checks_for_assets(PROCESSED_STRIPE),
    )
    assert {name for (_, name) in results} == {"row_count", "keys_unique", "revenue_reconciles"}
    assert all(e.passed for e in results.values())
    assert results[(PROCESSED_STRIPE, "revenue_reconciles")].metadata["net_amount_total"].value == 1400


def test_processed_stripe_that_lost_a_refund_and_repeats_a_key_fails_and_says_where(tmp_path):
    daily = _daily([("1970-01-02", "usd", 1000), ("1970-01-03", "eur", 350), ("1970-01-03", "eur", 350)])
    destinations = _lake(tmp_path, daily, CONSISTENT_CUSTOMERS)
    results = _run(
        processed_stripe_checks,
        {"destinations": destinations},
        dg.AssetSelection.checks_for_assets(PROCESSED_STRIPE),
    )
    reconcile = results[(PROCESSED_STRIPE, "revenue_reconciles")]
    assert not reconcile.passed
    assert "usd: expected 700, found 1000" in reconcile.description
    keys = results[(PROCESSED_STRIPE, "keys_unique")]
    assert not keys.passed and "daily_revenue: 1 rows repeat a (day, currency) key" in keys.description
    assert results[(PROCESSED_STRIPE, "row_count")].passed


def test_processed_stripe_checks_are_blocking():
    assert all(spec.blocking for spec in processed_stripe_checks.check_specs)


def test_snowflake_tables_reconcile_with_processed_stripe_and_keep_keys_unique(tmp_path):
    destinations = _lake(tmp_path, CONSISTENT_DAILY, CONSISTENT_CUSTOMERS)
    snowflake = LocalSnowflakeResource(
        account="local",
        user="dagster",
        password="local",
        database="ANALYTICS",
        schema_name="PUBLIC",
        db_path=str(tmp_path / "snowflake"),
    )
    with snowflake.get_connection() as connection:
        # One usd day short of processed/stripe: a load that lost rows.
        replace_table(connection, "STRIPE_DAILY_REVENUE", pd.DataFrame(CONSISTENT_DAILY[1:]))
        replace_table(
            connection,
            "SALES_PIPELINE",
            pd.DataFrame(
                {"source": ["hubspot", "hubspot"], "stage": ["closedwon", "closedwon"], "deals": [1, 2]}
            ),
        )
    results = _run(
        snowflake_table_checks,
        {"destinations": destinations, "snowflake": snowflake},
        dg.AssetSelection.checks_for_assets(STRIPE_REVENUE, SALES_PIPELINE),
    )
    assert results[(STRIPE_REVENUE, "row_count")].passed
    assert results[(STRIPE_REVENUE, "keys_unique")].passed
    reconcile = results[(STRIPE_REVENUE, "revenue_reconciles")]
    assert not reconcile.passed and "usd: expected 700, found 0" in reconcile.description
    assert not results[(SALES_PIPELINE, "keys_unique")].passed
    assert not any(spec.blocking for spec in snowflake_table_checks.check_specs)
