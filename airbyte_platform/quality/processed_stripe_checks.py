"""Checks of `processed/stripe` (the Databricks transform's output), blocking: `snowflake/stripe_revenue`
loads it, so a broken output stops there instead of reaching Snowflake.

- `row_count`: both output tables have rows whenever the lake has succeeded charges;
- `keys_unique`: one row per (day, currency) in daily_revenue and per (customer, currency) in customer_revenue;
- `revenue_reconciles`: net revenue per currency equals the net of the raw succeeded charges less
  their refunds, recomputed from the lake's raw streams with pyarrow (not Spark, not the transform's code).
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.quality.table_facts import (
    check,
    compare_totals,
    duplicate_keys,
    net_by_currency,
    raw_stripe_net,
)
from airbyte_platform.transforms.databricks.assets import PROCESSED_STRIPE, stripe_paths

if TYPE_CHECKING:  # pandas and the lake reader are imported by the check steps, not at code load
    import pandas as pd

OUTPUT_KEYS = {"daily_revenue": ("day", "currency"), "customer_revenue": ("customer", "currency")}
SPECS = [
    dg.AssetCheckSpec(
        "row_count",
        asset=PROCESSED_STRIPE,
        blocking=True,
        description="daily_revenue and customer_revenue have rows when the lake has succeeded charges.",
    ),
    dg.AssetCheckSpec(
        "keys_unique",
        asset=PROCESSED_STRIPE,
        blocking=True,
        description="One row per (day, currency) and per (customer, currency).",
    ),
    dg.AssetCheckSpec(
        "revenue_reconciles",
        asset=PROCESSED_STRIPE,
        blocking=True,
        description="Net revenue per currency equals the raw succeeded charges less their refunds.",
    ),
]


def read_output(output_path: str, table: str) -> "pd.DataFrame":
    import pyarrow.dataset as pads

    return pads.dataset(f"{output_path}/{table}", format="parquet").to_table().to_pandas()


def read_raw(s3_path: str, stream: str) -> "pd.DataFrame":
    from airbyte_platform.core.lake import read_lake_table

    return read_lake_table(f"{s3_path}/{stream}").to_pandas()


@dg.multi_asset_check(specs=SPECS, name="processed_stripe_checks", can_subset=True)
def processed_stripe_checks(
    context: dg.AssetCheckExecutionContext, destinations: DestinationsResource
) -> Iterator[dg.AssetCheckResult]:
    s3_path, output_path = stripe_paths(destinations.lake_root)
    outputs = {table: read_output(output_path, table) for table in OUTPUT_KEYS}
    raw_net, duplicates = raw_stripe_net(read_raw(s3_path, "charges"), read_raw(s3_path, "refunds"))
    selected = {key.name for key in context.selected_asset_check_keys}

    if "row_count" in selected:
        rows = {table: len(frame) for table, frame in outputs.items()}
        empty = [table for table, n in rows.items() if n == 0]
        passed = not (raw_net and empty)
        yield check(
            PROCESSED_STRIPE,
            "row_count",
            passed,
            None if passed else f"{', '.join(empty)} empty although the lake has succeeded charges",
            {f"rows/{table}": n for table, n in rows.items()},
        )
    if "keys_unique" in selected:
        repeated = {table: duplicate_keys(outputs[table], keys) for table, keys in OUTPUT_KEYS.items()}
        passed = not any(repeated.values())
        yield check(
            PROCESSED_STRIPE,
            "keys_unique",
            passed,
            None
            if passed
            else "; ".join(
                f"{table}: {n} rows repeat a ({', '.join(OUTPUT_KEYS[table])}) key"
                for table, n in repeated.items()
                if n
            ),
            {f"duplicate_keys/{table}": n for table, n in repeated.items()},
        )
    if "revenue_reconciles" in selected:
        daily = net_by_currency(outputs["daily_revenue"])
        per_customer = net_by_currency(outputs["customer_revenue"])
        ok_raw, raw_problem = compare_totals(
            raw_net, daily, "daily_revenue's net_amount against the raw charges"
        )
        ok_sides, side_problem = compare_totals(
            daily, per_customer, "customer_revenue's net_amount against daily_revenue"
        )
        problems = [p for p in (raw_problem, side_problem) if p]
        if problems and duplicates:
            problems.append(f"the raw streams hold {duplicates} duplicate rows (an id synced twice)")
        yield check(
            PROCESSED_STRIPE,
            "revenue_reconciles",
            ok_raw and ok_sides,
            "; ".join(problems) or None,
            {
                "net_amount_total": sum(daily.values()),
                "raw_net_amount_total": sum(raw_net.values()),
                "raw_duplicate_rows": duplicates,
            },
        )
