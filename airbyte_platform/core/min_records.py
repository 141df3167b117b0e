"""Minimum-records checks: `validate_sync_results(min_records=100)` of the seeds, on every stream.

The checks are blocking, so a stream that came back (nearly) empty stops the assets downstream of
it instead of propagating an empty table to Databricks and Snowflake.
"""

from __future__ import annotations

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec

CHECK_NAME = "min_records"


def min_records_check_spec(connection: ConnectionSpec, stream: StreamSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=CHECK_NAME,
        asset=connection.asset_key(stream),
        blocking=True,
        description=f"At least {stream.min_records} rows in the destination after each sync (validate_min_records).",
    )


def min_records_check_specs(connection: ConnectionSpec) -> list[dg.AssetCheckSpec]:
    return [min_records_check_spec(connection, stream) for stream in connection.streams]


def min_records_result(connection: ConnectionSpec, stream: StreamSpec, row_count: int) -> dg.AssetCheckResult:
    passed = row_count >= stream.min_records
    return dg.AssetCheckResult(
        asset_key=connection.asset_key(stream),
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if passed
        else f"{connection.name}/{stream.name}: {row_count} rows, fewer than the minimum of {stream.min_records}",
        metadata={"row_count": row_count, "min_records": stream.min_records},
    )
