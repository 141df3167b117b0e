"""Checks of the Snowflake tables BI reads: rows, unique keys, and revenue reconciled with its inputs.

Not blocking: nothing in the graph reads these tables (BI does, outside it), so a failure is
reported (and alerted on, as a failed check) without failing the run that loaded them.
- `snowflake/stripe_revenue` against `processed/stripe`'s daily_revenue (rows and net per currency);
- `snowflake/revenue_analytics` against the raw succeeded charges in the analytics PostgreSQL;
- `customers_unified` (one row per e-mail) and `sales_pipeline` (one row per source and stage).
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.quality.processed_stripe_checks import read_output
from airbyte_platform.quality.table_facts import check, compare_totals, duplicate_keys, net_by_currency
from airbyte_platform.transforms.databricks.assets import stripe_paths
from airbyte_platform.transforms.snowflake.assets import POOL
from airbyte_platform.transforms.snowflake.resource import SnowflakeWarehouseResource

if TYPE_CHECKING:  # imported by the check steps, not at code load
    import pandas as pd

# asset -> (table, key columns)
TABLES: dict[dg.AssetKey, tuple[str, tuple[str, ...]]] = {
    dg.AssetKey(["snowflake", "stripe_revenue"]): ("STRIPE_DAILY_REVENUE", ("DAY", "CURRENCY")),
    dg.AssetKey(["snowflake", "revenue_analytics"]): ("REVENUE_ANALYTICS", ("MONTH", "CURRENCY")),
    dg.AssetKey(["snowflake", "customers_unified"]): ("CUSTOMERS_UNIFIED", ("EMAIL",)),
    dg.AssetKey(["snowflake", "sales_pipeline"]): ("SALES_PIPELINE", ("SOURCE", "STAGE")),
}
RECONCILED = {dg.AssetKey(["snowflake", "stripe_revenue"]), dg.AssetKey(["snowflake", "revenue_analytics"])}
RAW_NET_SQL = (
    "SELECT lower(currency), COALESCE(SUM(amount - amount_refunded), 0) "
    "FROM stripe_raw.charges WHERE status = 'succeeded' GROUP BY 1"
)


def _specs() -> list[dg.AssetCheckSpec]:
    specs = []
    for asset, (table, keys) in TABLES.items():
        specs.append(dg.AssetCheckSpec("row_count", asset=asset, description=f"{table} has rows."))
        specs.append(
            dg.AssetCheckSpec(
                "keys_unique", asset=asset, description=f"One row per ({', '.join(keys)}) in {table}."
            )
        )
        if asset in RECONCILED:
            specs.append(
                dg.AssetCheckSpec(
                    "revenue_reconciles",
                    asset=asset,
                    description=f"{table}'s net_amount per currency equals its source's.",
                )
            )
    return specs


def _frame(snowflake: SnowflakeWarehouseResource, table: str) -> "pd.DataFrame":
    import pandas as pd

    with snowflake.get_connection() as connection:
        cursor = connection.cursor()
        try:
            cursor.execute(f"SELECT * FROM {table}")
            columns = [column.name.upper() for column in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)
        finally:
            cursor.close()


def _expected_net(asset: dg.AssetKey, destinations: DestinationsResource) -> tuple[dict[str, int], str]:
    if asset.path[-1] == "stripe_revenue":
        _, output_path = stripe_paths(destinations.lake_root)
        return net_by_currency(read_output(output_path, "daily_revenue")), "processed/stripe daily_revenue"
    import psycopg

    with psycopg.connect(destinations.postgres_uri()) as connection:
        rows = connection.execute(RAW_NET_SQL).fetchall()
    return {str(currency): int(total) for currency, total in rows}, "succeeded charges in stripe_raw.charges"


@dg.multi_asset_check(specs=_specs(), name="snowflake_table_checks", can_subset=True, pool=POOL)
def snowflake_table_checks(
    context: dg.AssetCheckExecutionContext,
    snowflake: SnowflakeWarehouseResource,
    destinations: DestinationsResource,
) -> Iterator[dg.AssetCheckResult]:
    selected = context.selected_asset_check_keys
    for asset, (table, keys) in TABLES.items():
        wanted = {key.name for key in selected if key.asset_key == asset}
        if not wanted:
            continue
        frame = _frame(snowflake, table)
        if "row_count" in wanted:
            yield check(
                asset,
                "row_count",
                len(frame) > 0,
                None if len(frame) else f"{table} is empty",
                {"dagster/row_count": len(frame)},
            )
        if "keys_unique" in wanted:
            repeated = duplicate_keys(frame, keys)
            yield check(
                asset,
                "keys_unique",
                repeated == 0,
                f"{repeated} rows of {table} repeat a ({', '.join(keys)}) key" if repeated else None,
                {"duplicate_keys": repeated},
            )
        if "revenue_reconciles" in wanted:
            expected, source = _expected_net(asset, destinations)
            actual = net_by_currency(frame.rename(columns=str.lower))
            passed, problem = compare_totals(expected, actual, f"{table}'s net_amount against {source}")
            yield check(
                asset,
                "revenue_reconciles",
                passed,
                problem,
                {
                    "net_amount_total": sum(actual.values()),
                    "expected_net_amount_total": sum(expected.values()),
                },
            )
