"""The prod Snowflake path: the plain `dagster_snowflake.SnowflakeResource` that prod settings build,
pointed by SNOWFLAKE_HOST/PORT/PROTOCOL at fakesnow's server mode, reached through the real
`snowflake-connector-python` over loopback (no `fakesnow.patch` anywhere in this module)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import snowflake.connector
from psycopg.types.json import Jsonb

from airbyte_platform.ingestion.local_defs import build_destinations_resource
from airbyte_platform.settings import Settings, load_settings
from airbyte_platform.transforms.databricks.assets import processed_stripe, stripe_paths
from airbyte_platform.transforms.resources import build_transform_resources
from airbyte_platform.transforms.snowflake.assets import build_snowflake_assets, stripe_revenue
from airbyte_platform.transforms.snowflake.loading import count_rows, replace_table, table_schema
from airbyte_platform.transforms.snowflake.local_snowflake import LocalSnowflakeResource
from airbyte_platform.transforms.snowflake.resource import SnowflakeWarehouseResource
from airbyte_platform_tests.transforms.fake_databricks import RUNNING, SUCCESS, FakeDatabricks, FakeRun
from airbyte_platform_tests.transforms.prod_support import STRIPE_JOB_ID, ProdSettings, failure_text


@pytest.fixture
def loopback_env(fakesnow_server: dict[str, Any], analytics_postgres: str, tmp_path: Path) -> dict[str, str]:
    """The prod variables that point Snowflake, PostgreSQL and the lake at loopback stand-ins."""
    return {
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": str(fakesnow_server["port"]),
        "SNOWFLAKE_PROTOCOL": "http",
        # fakesnow's server shares one in-memory instance: a database per test keeps tests apart.
        "SNOWFLAKE_DATABASE": f"ANALYTICS_{uuid.uuid4().hex[:8].upper()}",
        "SNOWFLAKE_SCHEMA": "REPORTING",
        "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
        "ANALYTICS_POSTGRES_DSN": analytics_postgres,
        "DATALAKE_ROOT": str(tmp_path / "lake"),
    }


@pytest.fixture
def settings(prod_settings: ProdSettings, loopback_env: dict[str, str]) -> Settings:
    return prod_settings(**loopback_env)


def _prod_snowflake(settings: Settings) -> SnowflakeWarehouseResource:
    resource = build_transform_resources(settings)["snowflake"]
    assert type(resource) is SnowflakeWarehouseResource  # the prod resource, not LocalSnowflakeResource
    return resource


def _query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    """Read back with a separate, plain connector connection (as a BI tool would)."""
    sf = settings.snowflake
    assert sf is not None
    with snowflake.connector.connect(
        account=sf.account,
        user=sf.user,
        password="snowflake-password",
        database=sf.database,
        schema=sf.schema,
        host=sf.host,
        port=sf.port,
        protocol=sf.protocol,
    ) as connection:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def _materialize(settings: Settings, assets: list[Any], **resources: Any) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        assets,
        resources={
            "snowflake": _prod_snowflake(settings),
            "destinations": build_destinations_resource(settings),
            **resources,
        },
        raise_on_error=False,
    )
    assert result.success, failure_text(result)
    return result


DAILY_REVENUE = pd.DataFrame(
    {
        "day": [dt.date(2026, 11, 1), dt.date(2026, 11, 1), dt.date(2026, 11, 2)],
        "currency": ["usd", "eur", "usd"],
        "gross_amount": [12_000, 700, 5_000],
        "refunded_amount": [300, 0, 5_000],
        "net_amount": [11_700, 700, 0],
        "charges": [4, 1, 2],
    }
)


def _write_daily_revenue(output_path: str, frame: pd.DataFrame) -> None:
    folder = Path(output_path) / "daily_revenue"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / "part-00000.parquet")


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_prod_resource_points_at_the_configured_endpoint(settings: Settings) -> None:
    resource = _prod_snowflake(settings)
    assert resource.dagster_resource().additional_snowflake_connection_args == {
        "host": "127.0.0.1",
        "port": settings.snowflake.port,  # type: ignore[union-attr]
        "protocol": "http",
    }
    with resource.get_connection() as connection:
        assert type(connection) is snowflake.connector.SnowflakeConnection
        cursor = connection.cursor()
        cursor.execute("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()")
        assert cursor.fetchone() == (settings.snowflake.database, "REPORTING")  # type: ignore[union-attr]


def test_stripe_revenue_loads_the_processed_daily_revenue(settings: Settings) -> None:
    _write_daily_revenue(stripe_paths(settings.lake_root)[1], DAILY_REVENUE)

    metadata = _metadata(_materialize(settings, [stripe_revenue]), "snowflake__stripe_revenue")

    assert metadata["dagster/row_count"] == len(DAILY_REVENUE)
    assert metadata["net_amount_total"] == DAILY_REVENUE["net_amount"].sum()
    assert [c.name for c in metadata["dagster/column_schema"].columns] == [
        c.upper() for c in DAILY_REVENUE.columns
    ]
    rows = _query(settings, "SELECT * FROM STRIPE_DAILY_REVENUE ORDER BY DAY, CURRENCY")
    expected = DAILY_REVENUE.sort_values(["day", "currency"]).itertuples(index=False, name=None)
    assert rows == list(expected)
    # Loading again replaces the table rather than appending to it.
    _write_daily_revenue(stripe_paths(settings.lake_root)[1], DAILY_REVENUE.head(1))
    _materialize(settings, [stripe_revenue])
    assert _query(settings, "SELECT COUNT(*) FROM STRIPE_DAILY_REVENUE") == [(1,)]


def test_stripe_datalake_pipeline_prod_path_end_to_end(
    loopback_env: dict[str, str], prod_settings: ProdSettings, fake_databricks: FakeDatabricks
) -> None:
    """processed/stripe through the run-now stand-in (its job writes where output_path says), then
    snowflake/stripe_revenue through the real connector: the DAG's process -> load_to_snowflake."""

    def stripe_job(run: FakeRun) -> None:  # the existing Databricks notebook, as far as we can see
        _write_daily_revenue(run.request["notebook_params"]["output_path"], DAILY_REVENUE)

    fake_databricks.jobs[STRIPE_JOB_ID] = stripe_job
    fake_databricks.lifecycle = [RUNNING, SUCCESS]
    settings = prod_settings(**loopback_env, DATABRICKS_HOST=fake_databricks.host)

    result = _materialize(
        settings,
        [processed_stripe, stripe_revenue],
        databricks_transform=build_transform_resources(settings)["databricks_transform"],
    )

    assert _metadata(result, "processed__stripe")["databricks/run_id"] in fake_databricks.runs
    assert _metadata(result, "snowflake__stripe_revenue")["dagster/row_count"] == len(DAILY_REVENUE)
    assert _query(settings, "SELECT SUM(NET_AMOUNT) FROM STRIPE_DAILY_REVENUE") == [
        (DAILY_REVENUE["net_amount"].sum(),)
    ]


# ---- multi_source_analytics: raw PostgreSQL tables -> unified tables in Snowflake ----------------

MONTH = 30 * 86_400
CUSTOMERS = [  # id, email, name, currency, created
    ("cus_1", "Ana@Example.com", "Ana", "usd", 1_700_000_000),
    ("cus_2", "bob@example.com", "Bob", "eur", 1_700_000_000),
    ("cus_3", None, "No Email", "usd", 1_700_000_000),
]
CHARGES = [  # id, customer, amount, amount_refunded, currency, status, created
    ("ch_1", "cus_1", 10_000, 0, "USD", "succeeded", 1_700_000_000),
    ("ch_2", "cus_1", 2_500, 500, "usd", "succeeded", 1_700_000_000 + 3_600),
    ("ch_3", "cus_2", 4_000, 4_000, "eur", "succeeded", 1_700_000_000),
    ("ch_4", "cus_2", 9_999, 0, "eur", "failed", 1_700_000_000),
    ("ch_5", "cus_1", 1_000, 0, "usd", "succeeded", 1_700_000_000 + MONTH),
]
INVOICES = [("in_1", "cus_1", 12_500, "usd", "paid", 1_700_000_000)]
HUBSPOT_CONTACTS = [  # id, properties, updatedAt
    ("h_1", {"email": "ana@example.com"}, dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
    ("h_2", {"email": "carol@example.com"}, dt.datetime(2026, 11, 2, tzinfo=dt.UTC)),
    ("h_3", {"firstname": "No Email"}, dt.datetime(2026, 11, 3, tzinfo=dt.UTC)),
]
HUBSPOT_DEALS = [  # id, properties
    ("d_1", {"dealstage": "closedwon", "amount": "1000.50"}),
    ("d_2", {"dealstage": "appointmentscheduled", "amount": "200"}),
    ("d_3", {"dealstage": "closedwon"}),
]
SALESFORCE_CONTACTS = [("003A", "BOB@example.com", "001A"), ("003B", "dave@example.com", "001B")]
OPPORTUNITIES = [  # Id, StageName, Amount, IsClosed, IsWon
    ("006A", "Closed Won", Decimal("5000.00"), True, True),
    ("006B", "Prospecting", Decimal("1200.50"), False, False),
    ("006C", "Closed Won", None, True, True),
    ("006D", "Closed Lost", Decimal("300.00"), True, False),
]


@pytest.fixture
def raw_postgres(analytics_postgres: str) -> Iterator[None]:
    """The raw tables Airbyte's PostgreSQL destination holds, filled with the rows above."""
    with psycopg.connect(analytics_postgres, autocommit=True) as pg:
        pg.execute("DROP SCHEMA IF EXISTS stripe_raw, hubspot_raw, salesforce_raw CASCADE")
        pg.execute("CREATE SCHEMA stripe_raw; CREATE SCHEMA hubspot_raw; CREATE SCHEMA salesforce_raw")
        pg.execute(
            "CREATE TABLE stripe_raw.customers (id text, email text, name text, currency text, created bigint)"
        )
        pg.execute(
            "CREATE TABLE stripe_raw.charges (id text, customer text, amount bigint, amount_refunded bigint, "
            "currency text, status text, created bigint)"
        )
        pg.execute(
            "CREATE TABLE stripe_raw.invoices (id text, customer text, amount_paid bigint, currency text, "
            "status text, created bigint)"
        )
        pg.execute('CREATE TABLE hubspot_raw.contacts (id text, properties jsonb, "updatedAt" timestamptz)')
        pg.execute("CREATE TABLE hubspot_raw.deals (id text, properties jsonb)")
        pg.execute('CREATE TABLE salesforce_raw.contact ("Id" text, "Email" text, "AccountId" text)')
        pg.execute(
            'CREATE TABLE salesforce_raw.opportunity ("Id" text, "StageName" text, "Amount" numeric(18,2), '
            '"IsClosed" boolean, "IsWon" boolean)'
        )
        with pg.cursor() as cursor:
            cursor.executemany("INSERT INTO stripe_raw.customers VALUES (%s, %s, %s, %s, %s)", CUSTOMERS)
            cursor.executemany("INSERT INTO stripe_raw.charges VALUES (%s, %s, %s, %s, %s, %s, %s)", CHARGES)
            cursor.executemany("INSERT INTO stripe_raw.invoices VALUES (%s, %s, %s, %s, %s, %s)", INVOICES)
            cursor.executemany(
                "INSERT INTO hubspot_raw.contacts VALUES (%s, %s, %s)",
                [(i, Jsonb(p), u) for i, p, u in HUBSPOT_CONTACTS],
            )
            cursor.executemany(
                "INSERT INTO hubspot_raw.deals VALUES (%s, %s)", [(i, Jsonb(p)) for i, p in HUBSPOT_DEALS]
            )
            cursor.executemany("INSERT INTO salesforce_raw.contact VALUES (%s, %s, %s)", SALESFORCE_CONTACTS)
            cursor.executemany(
                "INSERT INTO salesforce_raw.opportunity VALUES (%s, %s, %s, %s, %s)", OPPORTUNITIES
            )
        yield
        pg.execute("DROP SCHEMA IF EXISTS stripe_raw, hubspot_raw, salesforce_raw CASCADE")


def _expected_customers() -> dict[str, tuple[str | None, str | None, str | None, int]]:
    ids: dict[str, list[str | None]] = defaultdict(lambda: [None, None, None])
    for customer_id, email, *_ in CUSTOMERS:
        if email:
            ids[email.lower()][0] = customer_id
    for contact_id, properties, _ in HUBSPOT_CONTACTS:
        if properties.get("email"):
            ids[properties["email"].lower()][1] = contact_id
    for contact_id, email, _ in SALESFORCE_CONTACTS:
        ids[email.lower()][2] = contact_id
    return {email: (*found, sum(v is not None for v in found)) for email, found in ids.items()}  # type: ignore[misc]


def _expected_revenue() -> dict[tuple[str, str], tuple[int, int, int, int]]:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for _, _, amount, refunded, currency, status, created in CHARGES:
        if status == "succeeded":
            month = dt.datetime.fromtimestamp(created, dt.UTC).strftime("%Y-%m")
            row = totals[(month, currency.lower())]
            row[0] += 1
            row[1] += amount
            row[2] += refunded
            row[3] += amount - refunded
    return {key: (a, b, c, d) for key, (a, b, c, d) in totals.items()}


def _expected_pipeline() -> dict[tuple[str, str], tuple[int, Decimal, int]]:
    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for _, stage, amount, _, is_won in OPPORTUNITIES:
        row = totals[("salesforce", stage)]
        row[0], row[1], row[2] = row[0] + 1, row[1] + (amount or 0), row[2] + int(is_won)
    for _, properties in HUBSPOT_DEALS:
        stage = properties["dealstage"]
        row = totals[("hubspot", stage)]
        amount = Decimal(properties.get("amount", "0"))
        row[0], row[1], row[2] = row[0] + 1, row[1] + amount, row[2] + int(stage == "closedwon")
    return {key: (a, b, c) for key, (a, b, c) in totals.items()}


@pytest.mark.usefixtures("raw_postgres")
def test_analytics_tables_are_computed_from_the_raw_tables(settings: Settings) -> None:
    analytics = [a for a in build_snowflake_assets() if a.key != stripe_revenue.key]
    assert {a.key.path[-1] for a in analytics} == {"customers_unified", "revenue_analytics", "sales_pipeline"}

    result = _materialize(settings, analytics)

    customers = {
        email: (stripe_id, hubspot_id, salesforce_id, int(count))
        for email, stripe_id, hubspot_id, salesforce_id, count in _query(
            settings,
            "SELECT EMAIL, STRIPE_CUSTOMER_ID, HUBSPOT_CONTACT_ID, SALESFORCE_CONTACT_ID, SOURCE_COUNT "
            "FROM CUSTOMERS_UNIFIED",
        )
    }
    assert customers == _expected_customers()

    revenue = {
        (str(month)[:7], currency): tuple(int(v) for v in values)
        for month, currency, *values in _query(
            settings,
            "SELECT MONTH, CURRENCY, CHARGES, GROSS_AMOUNT, REFUNDED_AMOUNT, NET_AMOUNT FROM REVENUE_ANALYTICS",
        )
    }
    assert revenue == _expected_revenue()

    pipeline = {
        (source, stage): (int(deals), Decimal(str(amount)), int(won))
        for source, stage, deals, amount, won in _query(
            settings, "SELECT SOURCE, STAGE, DEALS, AMOUNT, WON FROM SALES_PIPELINE"
        )
    }
    assert pipeline == _expected_pipeline()

    # Each asset reports what it loaded and built.
    unified = _metadata(result, "snowflake__customers_unified")
    assert unified["dagster/row_count"] == len(_expected_customers())
    assert unified["rows_loaded/raw_stripe_customers"] == len(CUSTOMERS)
    assert unified["rows_loaded/raw_hubspot_contacts"] == len(HUBSPOT_CONTACTS)
    assert _metadata(result, "snowflake__sales_pipeline")["rows_loaded/raw_salesforce_opportunities"] == len(
        OPPORTUNITIES
    )
    assert _metadata(result, "snowflake__revenue_analytics")["dagster/row_count"] == len(_expected_revenue())


MIXED = pd.DataFrame(
    {
        "day": [dt.date(2026, 11, 1), dt.date(2026, 11, 2)],
        "label": ["a", None],
        "cents": [1, -2],
        "amount": [Decimal("10.50"), None],
        "at": pd.to_datetime(["2026-11-01T10:00:00Z", "2026-11-02T00:30:00Z"]),
        "ratio": [0.25, None],
        "won": [True, False],
        "unknown": [None, None],
    }
)


@pytest.mark.parametrize("mode", ["prod", "local"])
def test_replace_table_keeps_types_and_values(mode: str, settings: Settings, tmp_path: Path) -> None:
    """The loader (PUT + COPY INTO a declared table) on the prod resource and on local mode's."""
    if mode == "prod":
        resource: SnowflakeWarehouseResource = _prod_snowflake(settings)
    else:
        resource = build_transform_resources(load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)}))[
            "snowflake"
        ]
        assert isinstance(resource, LocalSnowflakeResource)
    with resource.get_connection() as connection:
        assert replace_table(connection, "MIXED", MIXED) == len(MIXED)
        assert table_schema(connection, "MIXED") == [
            ("DAY", "DATE"),
            ("LABEL", "TEXT"),
            ("CENTS", "FIXED"),
            ("AMOUNT", "FIXED"),
            ("AT", "TIMESTAMP_TZ"),
            ("RATIO", "REAL"),
            ("WON", "BOOLEAN"),
            ("UNKNOWN", "TEXT"),
        ]
        cursor = connection.cursor()
        cursor.execute("SELECT * FROM MIXED ORDER BY DAY")
        rows = cursor.fetchall()
        assert [row[:4] + row[5:] for row in rows] == [
            (dt.date(2026, 11, 1), "a", 1, Decimal("10.50"), 0.25, True, None),
            (dt.date(2026, 11, 2), None, -2, None, None, False, None),
        ]
        assert [row[4] for row in rows] == list(MIXED["at"])  # the same instants
        # An empty frame replaces the table with an empty one of the same columns.
        assert replace_table(connection, "MIXED", MIXED.head(0)) == 0
        assert count_rows(connection, "MIXED") == 0
        assert [name for name, _ in table_schema(connection, "MIXED")] == [c.upper() for c in MIXED.columns]
