"""Great Expectations suites as blocking checks: run by GX 1.x as SQL in a real PostgreSQL, failing
on bad rows with a description that names the stream, the expectation and the column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.specs import postgres_schema
from airbyte_platform.quality.gx_suites import (
    check_result_from_validation,
    load_suite_document,
    suite_path,
    validate_stream,
)

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


def _check(postgres_dsn: str, tmp_path: Path):
    destinations = DestinationsResource(
        lake_root=str(tmp_path / "lake"), home=str(tmp_path), postgres_dsn=postgres_dsn
    )
    document = load_suite_document(suite_path(STRIPE, CUSTOMERS))
    return check_result_from_validation(
        STRIPE, CUSTOMERS, validate_stream(destinations, STRIPE, CUSTOMERS, document)
    )


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
