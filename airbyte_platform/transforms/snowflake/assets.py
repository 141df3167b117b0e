"""Snowflake assets: the Stripe revenue load (stripe_datalake_pipeline's `load_to_snowflake`) and the
unified analytics tables of `multi_source_analytics`."""

from typing import TYPE_CHECKING

import dagster as dg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.transforms.databricks.assets import PROCESSED_STRIPE, stripe_paths
from airbyte_platform.transforms.snowflake.analytics_sql import RAW_INPUTS, TABLES
from airbyte_platform.transforms.snowflake.resource import SnowflakeWarehouseResource

if TYPE_CHECKING:
    import pandas as pd

GROUP = "snowflake_analytics"
POOL = "snowflake"
OWNERS = ["team:data-platform"]


def _schema(columns: list[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=type_) for name, type_ in columns])


@dg.asset(
    key=["snowflake", "stripe_revenue"],
    deps=[PROCESSED_STRIPE],
    group_name=GROUP,
    kinds={"snowflake"},
    owners=OWNERS,
    pool=POOL,
    description="STRIPE_DAILY_REVENUE in Snowflake: processed/stripe's daily_revenue, replaced on each load.",
)
def stripe_revenue(
    snowflake: SnowflakeWarehouseResource, destinations: DestinationsResource
) -> dg.MaterializeResult:
    import pandas as pd
    import pyarrow.dataset as pads

    from airbyte_platform.transforms.snowflake.loading import replace_table, table_schema

    _, output_path = stripe_paths(destinations.lake_root)
    frame = pads.dataset(f"{output_path}/daily_revenue", format="parquet").to_table().to_pandas()
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    with snowflake.get_connection() as connection:
        rows = replace_table(connection, "STRIPE_DAILY_REVENUE", frame)
        schema = table_schema(connection, "STRIPE_DAILY_REVENUE")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/table_name": "STRIPE_DAILY_REVENUE",
            "dagster/column_schema": _schema(schema),
            "net_amount_total": int(frame["net_amount"].sum()) if rows else 0,
        }
    )


def _postgres_frame(destinations: DestinationsResource, query: str) -> "pd.DataFrame":
    import pandas as pd
    import psycopg

    with psycopg.connect(destinations.postgres_uri()) as connection, connection.cursor() as cursor:
        cursor.execute(query)
        columns = [column.name for column in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def _deps_for(raw_tables: tuple[str, ...]) -> list[dg.AssetKey]:
    sources = {
        "RAW_STRIPE_CUSTOMERS": ("stripe_to_postgres", "customers"),
        "RAW_STRIPE_CHARGES": ("stripe_to_postgres", "charges"),
        "RAW_STRIPE_INVOICES": ("stripe_to_postgres", "invoices"),
        "RAW_HUBSPOT_CONTACTS": ("hubspot_to_postgres", "contacts"),
        "RAW_HUBSPOT_DEALS": ("hubspot_to_postgres", "deals"),
        "RAW_SALESFORCE_CONTACTS": ("salesforce_to_postgres", "Contact"),
        "RAW_SALESFORCE_OPPORTUNITIES": ("salesforce_to_postgres", "Opportunity"),
    }
    return [connection_named(sources[raw][0]).asset_key(sources[raw][1]) for raw in raw_tables]


def build_analytics_asset(table: str) -> dg.AssetsDefinition:
    raw_tables, sql = TABLES[table]

    @dg.asset(
        key=["snowflake", table.lower()],
        deps=_deps_for(raw_tables),
        group_name=GROUP,
        kinds={"snowflake"},
        owners=OWNERS,
        pool=POOL,
        description=f"{table} in Snowflake, consolidated from the raw PostgreSQL tables ({', '.join(raw_tables)}).",
    )
    def _table(
        snowflake: SnowflakeWarehouseResource, destinations: DestinationsResource
    ) -> dg.MaterializeResult:
        from airbyte_platform.transforms.snowflake.loading import count_rows, replace_table, table_schema

        frames = {raw: _postgres_frame(destinations, RAW_INPUTS[raw]) for raw in raw_tables}
        with snowflake.get_connection() as connection:
            loaded = {raw: replace_table(connection, raw, frame) for raw, frame in frames.items()}
            cursor = connection.cursor()
            cursor.execute(sql)
            cursor.close()
            rows = count_rows(connection, table)
            schema = table_schema(connection, table)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "dagster/table_name": table,
                "dagster/column_schema": _schema(schema),
                **{f"rows_loaded/{raw.lower()}": n for raw, n in loaded.items()},
            }
        )

    return _table


ANALYTICS_TABLES = ("CUSTOMERS_UNIFIED", "REVENUE_ANALYTICS", "SALES_PIPELINE")


def build_snowflake_assets() -> list[dg.AssetsDefinition]:
    return [stripe_revenue, *(build_analytics_asset(table) for table in ANALYTICS_TABLES)]
