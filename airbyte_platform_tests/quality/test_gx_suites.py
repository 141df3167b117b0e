"""Great Expectations suites as blocking checks: `stripe_postgres_checkpoint` run by GX 1.x as SQL in a
real PostgreSQL, failing on bad rows with a description that names the stream, the expectation and the
column, and metadata that names the failing rows by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.specs import postgres_schema
from airbyte_platform.quality.gx_checkpoints import run_connection_checkpoint
from airbyte_platform.quality.gx_results import stream_check_results
from airbyte_platform.quality.gx_suites import load_suite_document, suite_path

STRIPE = connection_named("stripe_to_postgres")
CUSTOMERS = next(stream for stream in STRIPE.streams if stream.name == "customers")


def _load_customers(
    connection: psycopg.Connection[Any], rows: list[tuple[str | None, str, int | None]]
) -> None:
    schema = postgres_schema(STRIPE)
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    connection.execute(f'DROP TABLE IF EXISTS "{schema}"."{CUSTOMERS.table_name}"')
    connection.execute(
        f'CREATE TABLE "{schema}"."{CUSTOMERS.table_name}" (id text, email text, created bigint)'
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            f'INSERT INTO "{schema}"."{CUSTOMERS.table_name}" VALUES (%s, %s, %s)',
            rows,
        )


def _check(postgres_dsn: str, tmp_path: Path, stream: str = CUSTOMERS.name):
    destinations = DestinationsResource(
        lake_root=str(tmp_path / "lake"), home=str(tmp_path), postgres_dsn=postgres_dsn
    )
    # Every Stripe stream's suite, as the op passes them: the checkpoint is built once per process.
    documents = {stream.name: load_suite_document(suite_path(STRIPE, stream)) for stream in STRIPE.streams}
    run = run_connection_checkpoint(STRIPE, documents, destinations, None)
    assert run.checkpoint == "stripe_postgres_checkpoint"
    return stream_check_results(STRIPE, list(STRIPE.streams), run)[stream]


def test_a_clean_table_passes_its_suite(pg, postgres_dsn, tmp_path):
    _load_customers(pg, [(f"cus_{i}", f"c{i}@example.com", 1_700_000_000 + i) for i in range(50)])
    result = _check(postgres_dsn, tmp_path)
    assert result.passed, result.description
    assert (
        result.metadata["evaluated_expectations"].value
        == result.metadata["successful_expectations"].value
        > 0
    )


def test_bad_rows_fail_the_suite_naming_expectation_and_column(pg, postgres_dsn, tmp_path):
    rows = [(f"cus_{i}", f"c{i}@example.com", 1_700_000_000 + i) for i in range(50)]
    rows += [("cus_1", "dup@example.com", 1), (None, "anon@example.com", 2), ("cus_x", "x@example.com", None)]
    _load_customers(pg, rows)
    result = _check(postgres_dsn, tmp_path)
    assert not result.passed
    assert result.check_name == "gx_suite"
    description = result.description or ""
    assert description.startswith("stripe_to_postgres/customers: ")
    assert "expect_column_values_to_be_unique(id)" in description
    assert "expect_column_values_to_not_be_null(id): 1 unexpected" in description
    assert "expect_column_values_to_not_be_null(created): 1 unexpected" in description
    failed = result.metadata["failed_expectations"].value
    assert len(failed) == 3
    # The failing rows, named by primary key: the null created belongs to cus_x, the duplicate is cus_1.
    rows = {(r["expectation"], r["column"]): r for r in result.metadata["failing_rows"].value}
    null_created = rows[("expect_column_values_to_not_be_null", "created")]
    assert [row["id"] for row in null_created["unexpected_rows"]] == ["cus_x"]
    duplicates = rows[("expect_column_values_to_be_unique", "id")]
    assert set(duplicates["unexpected_values"]) == {"cus_1"}
    assert (
        result.metadata["successful_expectations"].value
        == result.metadata["evaluated_expectations"].value - 3
    )


def test_a_missing_column_fails_the_suite(pg, postgres_dsn, tmp_path):
    schema = postgres_schema(STRIPE)
    _load_customers(pg, [(f"cus_{i}", f"c{i}@example.com", i) for i in range(5)])
    pg.execute(f'ALTER TABLE "{schema}"."{CUSTOMERS.table_name}" DROP COLUMN email')
    result = _check(postgres_dsn, tmp_path)
    assert not result.passed
    assert "expect_table_columns_to_match_set" in (result.description or "")


def test_a_table_no_sync_has_written_fails_its_check_naming_the_table(pg, postgres_dsn, tmp_path):
    _load_customers(pg, [(f"cus_{i}", f"c{i}@example.com", 1_700_000_000 + i) for i in range(5)])
    pg.execute('DROP TABLE IF EXISTS "stripe_raw"."invoices"')
    result = _check(postgres_dsn, tmp_path, stream="invoices")
    assert not result.passed and result.severity.value == "ERROR"
    assert "stripe_raw.invoices" in (result.description or "")
    assert result.metadata["checkpoint"].value == "stripe_postgres_checkpoint"


def test_a_clean_table_with_mixed_case_columns_passes(pg, postgres_dsn, tmp_path):
    """Salesforce's columns are mixed case ("Id", "Name"). GX 1.24 leaves such columns unquoted in the
    query naming failing rows by key (UndefinedColumn: the expectation errors on clean data), so those
    checkpoints name failing rows by value only; the clean table passes."""
    salesforce = connection_named("salesforce_to_postgres")
    account = next(stream for stream in salesforce.streams if stream.name == "Account")
    table = f'salesforce_raw."{account.table_name}"'
    pg.execute("CREATE SCHEMA IF NOT EXISTS salesforce_raw")
    pg.execute(f"DROP TABLE IF EXISTS {table}")
    pg.execute(f'CREATE TABLE {table} ("Id" text PRIMARY KEY, "Name" text, "SystemModstamp" text)')
    pg.execute(f"INSERT INTO {table} VALUES ('001A', 'Acme', 't1'), ('001B', 'Beta', 't2')")
    destinations = DestinationsResource(
        lake_root=str(tmp_path / "lake"), home=str(tmp_path), postgres_dsn=postgres_dsn
    )
    documents = {account.name: load_suite_document(suite_path(salesforce, account))}
    run = run_connection_checkpoint(salesforce, documents, destinations, None)
    result = stream_check_results(salesforce, [account], run)[account.name]
    assert result.passed, result.description
    assert all(e["success"] and "exception" not in e for e in result.metadata["expectations"].value)
