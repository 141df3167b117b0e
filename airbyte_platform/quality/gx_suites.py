"""Great Expectations 1.x suites as Dagster asset checks (the seeds' GreatExpectationsOperator).

`dagster-ge` only supports GX 0.x, so the checks call GX 1.x directly: an ephemeral context, a SQL
data source on the analytics PostgreSQL (expectations run as SQL in the database) and a pandas
data source for lake streams. Suites are GX's own JSON (`gx_suites/<source>/<stream>.json`), so a
suite edited in GX tooling drops in unchanged. One suite serves a stream wherever it lands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec, declared_connections
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.specs import destination_location, postgres_schema

CHECK_NAME = "gx_suite"
SUITES_DIR = Path(__file__).resolve().parent / "gx_suites"


def suite_path(connection: ConnectionSpec, stream: StreamSpec) -> Path:
    return SUITES_DIR / connection.group_name / f"{stream.name}.json"


@cache
def load_suite_document(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return json.load(handle)


def _quiet_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate_stream(
    destinations: DestinationsResource,
    connection: ConnectionSpec,
    stream: StreamSpec,
    suite_document: dict[str, Any],
) -> Any:
    """Run the suite against the stream's destination table; returns GX's validation result."""
    import great_expectations as gx

    context = _quiet_context()
    suite = gx.ExpectationSuite(name=suite_document["name"], expectations=suite_document["expectations"])
    if connection.destination == "postgres":
        source = context.data_sources.add_sql(
            "analytics", connection_string=destinations.postgres_sqlalchemy_url()
        )
        asset = source.add_table_asset(
            stream.table_name, table_name=stream.table_name, schema_name=postgres_schema(connection)
        )
        batch = asset.add_batch_definition_whole_table("all").get_batch()
    else:
        from airbyte_platform.core.lake import read_lake_table

        frame = read_lake_table(destination_location(connection, stream, destinations.lake_root)).to_pandas()
        asset = context.data_sources.add_pandas("lake").add_dataframe_asset(stream.table_name)
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
    return batch.validate(suite)


def check_result_from_validation(
    connection: ConnectionSpec, stream: StreamSpec, validation: Any
) -> dg.AssetCheckResult:
    failures: list[str] = []
    for result in validation.results:
        if not result.success:
            config = result.expectation_config
            column = config.kwargs.get("column")
            unexpected = (result.result or {}).get("unexpected_count")
            failures.append(
                f"{config.type}"
                + (f"({column})" if column else "")
                + (f": {unexpected} unexpected" if unexpected is not None else "")
            )
    statistics = validation.statistics
    return dg.AssetCheckResult(
        asset_key=connection.asset_key(stream),
        check_name=CHECK_NAME,
        passed=bool(validation.success),
        description=None
        if validation.success
        else f"{connection.name}/{stream.name}: " + "; ".join(failures),
        metadata={
            "evaluated_expectations": int(statistics["evaluated_expectations"]),
            "successful_expectations": int(statistics["successful_expectations"]),
            "success_percent": float(statistics.get("success_percent") or 0.0),
            "failed_expectations": dg.MetadataValue.json(failures),
        },
    )


def build_gx_checks_for(connection: ConnectionSpec) -> dg.AssetChecksDefinition | None:
    """The `gx_suite` checks of one connection's streams, as one op.

    One op per connection rather than per stream: each op is a process under the multiprocess
    executor, and a GX context is worth sharing across a connection's streams.
    """
    suites = {
        connection.asset_key(stream): (stream, path)
        for stream in connection.streams
        if (path := suite_path(connection, stream)).exists()
    }
    if not suites:
        return None
    specs = [
        dg.AssetCheckSpec(
            name=CHECK_NAME,
            asset=key,
            blocking=True,  # fail_task_on_validation_failure=True in stripe_etl_validated
            description=f"Great Expectations suite `{load_suite_document(path)['name']}` "
            f"({path.relative_to(SUITES_DIR)}).",
        )
        for key, (_, path) in suites.items()
    ]

    @dg.multi_asset_check(specs=specs, name=f"gx_suites_{connection.name}", can_subset=True)
    def _gx_checks(context, destinations: DestinationsResource) -> Iterator[dg.AssetCheckResult]:
        for check_key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            stream, path = suites[check_key.asset_key]
            validation = validate_stream(destinations, connection, stream, load_suite_document(path))
            yield check_result_from_validation(connection, stream, validation)

    return _gx_checks


def build_gx_checks(connections: tuple[ConnectionSpec, ...] | None = None) -> list[dg.AssetChecksDefinition]:
    checks = (
        build_gx_checks_for(connection)
        for connection in (connections if connections is not None else declared_connections())
    )
    return [check for check in checks if check is not None]
