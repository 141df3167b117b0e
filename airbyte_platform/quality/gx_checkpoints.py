"""Great Expectations checkpoints by name, as the seeds' GreatExpectationsOperator ran them.

Each connection with suites has one checkpoint: `stripe_post_sync_checkpoint` (Stripe in the lake,
after its sync) and `stripe_postgres_checkpoint` (Stripe in the analytics PostgreSQL) keep the
seeds' names; the other connections' are `<connection>_checkpoint`.

Where the checkpoint comes from:
- bundled (the default): an ephemeral GX context holding our suites (`gx_suites/<source>/*.json`),
  a data source per destination (`airbyte_lake` for the lake, SQL for PostgreSQL), one batch
  definition and one validation definition per stream, and the checkpoint over them;
- `GX_CONTEXT_ROOT_DIR` (the seeds' `/opt/airflow/gx`): that GX project's own checkpoint of the same
  name, with its own suites, data sources and actions. A name the project lacks is an error naming
  the checkpoint and the directory.

GX contexts are costly to build (seconds on a cold import), so each process keeps one per project
and builds a connection's checkpoint once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.core.specs import LAKE_PREFIX, postgres_schema

if TYPE_CHECKING:
    from great_expectations.checkpoint.checkpoint import CheckpointResult

# The seeds' names (000: stripe_etl_validated's validate_data_quality; 001: validate_synced_data).
SEED_CHECKPOINTS: dict[str, str] = {
    "stripe_to_s3": "stripe_post_sync_checkpoint",
    "stripe_to_postgres": "stripe_postgres_checkpoint",
}
BUNDLED = "bundled"
# Failing rows kept per expectation in a check's metadata (GX's own partial list is this long).
FAILING_ROWS_SAMPLE = 20


class GxCheckpointNotFoundError(LookupError):
    pass


def checkpoint_name(connection: ConnectionSpec) -> str:
    return SEED_CHECKPOINTS.get(connection.name, f"{connection.name}_checkpoint")


def data_asset_name(connection: ConnectionSpec, stream: StreamSpec) -> str:
    """The bundled data asset of a stream: where it lands, `airbyte/<source>/<table>` or `<schema>.<table>`."""
    if connection.destination == "lake":
        return f"{LAKE_PREFIX}/{connection.group_name}/{stream.table_name}"
    return f"{postgres_schema(connection)}.{stream.table_name}"


def stream_asset_aliases(connection: ConnectionSpec, stream: StreamSpec) -> set[str]:
    """Data asset names that mean this stream in a GX project (case-insensitive)."""
    names = {data_asset_name(connection, stream), stream.table_name, stream.name}
    if connection.destination == "postgres":
        names.add(f"{postgres_schema(connection)}.{stream.table_name}")
    return {name.lower() for name in names}


@dataclass(frozen=True)
class CheckpointRun:
    checkpoint: str
    project: str  # "bundled" or the GX project's directory
    result: CheckpointResult | None  # None: nothing to validate yet (see `unavailable`)
    # Streams the checkpoint could not cover, with why (a table no sync has written yet).
    unavailable: dict[str, str] = field(default_factory=dict)
    # (data source, data asset) → the destination kind its data source reads ("lake", "postgres", None).
    asset_destinations: dict[tuple[str, str], str | None] = field(default_factory=dict)


# GX data source types by the destination they can read: a project's checkpoint validating
# PostgreSQL tables is never reported on the lake's streams of the same name, nor the reverse.
LAKE_SOURCE_TYPES = {
    "airbyte_lake",
    "pandas",
    "pandas_s3",
    "pandas_filesystem",
    "spark",
    "spark_s3",
    "spark_filesystem",
}
POSTGRES_SOURCE_TYPES = {"postgres", "sql"}


def destination_kind(source_type: str) -> str | None:
    if source_type in LAKE_SOURCE_TYPES:
        return "lake"
    if source_type in POSTGRES_SOURCE_TYPES:
        return "postgres"
    return None  # another kind (sqlite, snowflake, ...): matched by name only


def _asset_destinations(checkpoint: Any) -> dict[tuple[str, str], str | None]:
    found = {}
    for validation in checkpoint.validation_definitions:
        asset = validation.data.data_asset
        found[(asset.datasource.name, asset.name)] = destination_kind(str(asset.datasource.type))
    return found


def _quiet(context: Any) -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # in memory, never saved
    return context


def project_context_arguments(root: Path) -> dict[str, str]:
    """`get_context` arguments for a GX project folder: the seeds point at the folder holding
    great_expectations.yml (`/opt/airflow/gx`); GX 1.x projects hold it under `gx/`."""
    if (root / "great_expectations.yml").is_file():
        return {"mode": "file", "context_root_dir": str(root)}
    if (root / "gx" / "great_expectations.yml").is_file():
        return {"mode": "file", "project_root_dir": str(root)}
    raise FileNotFoundError(
        f"GX_CONTEXT_ROOT_DIR={root} holds no Great Expectations project "
        "(neither great_expectations.yml nor gx/great_expectations.yml)"
    )


class GxContexts:
    """The GX contexts of this process: the bundled one per destination, a project's per folder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[tuple[str, ...], Any] = {}

    def _get(self, key: tuple[str, ...], build: Any) -> Any:
        import great_expectations as gx
        from great_expectations.data_context import set_context

        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = self._contexts[key] = _quiet(build(gx))
            # Validation definitions and checkpoints look their stores up in GX's current project.
            set_context(context)
            return context

    def project(self, root: Path) -> Any:
        # Before GX reads the project's config: its data sources may be of type airbyte_lake.
        import airbyte_platform.quality.gx_lake_datasource  # noqa: F401

        arguments = project_context_arguments(root)
        return self._get(("project", str(root)), lambda gx: gx.get_context(**arguments))

    def bundled(self, destinations: DestinationsResource, connection: ConnectionSpec) -> Any:
        # Keyed by the destination it reads (the DSN stays in memory only: it may hold a password) and
        # by connection: GX 1.24 carries state between checkpoints sharing a SQL data source (a
        # Salesforce "Id" column was then queried as `id`), so each connection has its own context.
        if connection.destination == "lake":
            key = ("bundled", connection.name, "lake", destinations.lake_root)
        else:
            key = ("bundled", connection.name, "postgres", destinations.postgres_sqlalchemy_url())
        return self._get(key, lambda gx: gx.get_context(mode="ephemeral"))


CONTEXTS = GxContexts()


def _get_or_add_data_source(
    context: Any, connection: ConnectionSpec, destinations: DestinationsResource
) -> Any:
    if connection.destination == "lake":
        import airbyte_platform.quality.gx_lake_datasource  # noqa: F401  registers the airbyte_lake type

        name, add = (
            "lake",
            lambda: context.data_sources.add_airbyte_lake("lake", lake_root=destinations.lake_root),
        )
    else:
        name, add = (
            "analytics",
            lambda: context.data_sources.add_sql(
                "analytics", connection_string=destinations.postgres_sqlalchemy_url()
            ),
        )
    existing = context.data_sources.all().get(name)
    return existing if existing is not None else add()


def _identifying_columns(connection: ConnectionSpec, streams: list[StreamSpec]) -> list[str]:
    """The primary key, when all the connection's checked streams share it: failing rows are then
    named by key (GX's result format is the checkpoint's, not per validation)."""
    keys = {tuple(stream.primary_key) for stream in streams}
    return list(next(iter(keys))) if len(keys) == 1 and () not in keys else []


def _stream_batch(source: Any, connection: ConnectionSpec, stream: StreamSpec) -> Any:
    """The stream's whole-table batch definition, its data asset added on first use.

    GX probes a table when its asset is added, so a table no sync has written yet raises
    TestConnectionError; it is tried again on the next run.
    """
    name = data_asset_name(connection, stream)
    if name in source.get_asset_names():
        return source.get_asset(name).batch_definitions[0]
    if connection.destination == "lake":
        asset = source.add_lake_table_asset(name, location=name)
        return asset.add_batch_definition_whole_dataframe("whole table")
    asset = source.add_table_asset(
        name, table_name=stream.table_name, schema_name=postgres_schema(connection)
    )
    return asset.add_batch_definition_whole_table("whole table")


def _all_lowercase_columns(source: Any, connection: ConnectionSpec, streams: list[StreamSpec]) -> bool:
    """Whether every column of the connection's tables is lower case.

    GX 1.24 builds the query naming failing rows with mixed-case columns unquoted (`name` for "Name":
    UndefinedColumn on PostgreSQL, the expectation errors), so such tables get failing values only.
    """
    import sqlalchemy as sa

    inspector = sa.inspect(source.get_engine())
    for stream in streams:
        try:
            names = [
                c["name"]
                for c in inspector.get_columns(stream.table_name, schema=postgres_schema(connection))
            ]
        except sa.exc.NoSuchTableError:
            continue
        if any(name != name.lower() for name in names):
            return False
    return True


def bundled_checkpoint(
    context: Any,
    connection: ConnectionSpec,
    suites: dict[str, dict[str, Any]],
    destinations: DestinationsResource,
) -> tuple[Any, dict[str, str]]:
    """The connection's checkpoint over our suites (`suites`: stream name → GX suite JSON), built once
    per context and rebuilt when a table appears; also the streams left out, with why."""
    import great_expectations as gx
    from great_expectations.datasource.fluent.interfaces import TestConnectionError

    name = checkpoint_name(connection)
    source = _get_or_add_data_source(context, connection, destinations)
    streams = [stream for stream in connection.streams if stream.name in suites]
    known_suites = {suite.name for suite in context.suites.all()}
    known_validations = {v.name: v for v in context.validation_definitions.all()}
    validations, unavailable = [], {}
    for stream in streams:
        validation_name = f"{name}:{stream.name}"
        if validation_name in known_validations:
            validations.append(known_validations[validation_name])
            continue
        try:
            batch = _stream_batch(source, connection, stream)
        except TestConnectionError as error:
            unavailable[stream.name] = str(error).split("\n")[0][:300]
            continue
        document = suites[stream.name]
        if document["name"] not in known_suites:
            context.suites.add(
                gx.ExpectationSuite(name=document["name"], expectations=document["expectations"])
            )
            known_suites.add(document["name"])
        validations.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=validation_name, data=batch, suite=context.suites.get(document["name"])
                )
            )
        )
    existing = {checkpoint.name: checkpoint for checkpoint in context.checkpoints.all()}
    if name in existing:
        if [v.name for v in existing[name].validation_definitions] == [v.name for v in validations]:
            return existing[name], unavailable
        context.checkpoints.delete(name)
    if not validations:
        return None, unavailable
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": FAILING_ROWS_SAMPLE,
    }
    columns = _identifying_columns(connection, streams)
    if columns and (connection.destination == "lake" or _all_lowercase_columns(source, connection, streams)):
        result_format["unexpected_index_column_names"] = columns
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=name, validation_definitions=validations, result_format=result_format)
    )
    return checkpoint, unavailable


def project_checkpoint(context: Any, name: str, root: Path) -> Any:
    checkpoints = sorted(checkpoint.name for checkpoint in context.checkpoints.all())
    if name not in checkpoints:
        raise GxCheckpointNotFoundError(
            f"GX checkpoint {name!r} is not in the Great Expectations project at {root} "
            f"(GX_CONTEXT_ROOT_DIR); its checkpoints: {', '.join(checkpoints) or 'none'}. "
            f"Add {name!r} to that project, or unset GX_CONTEXT_ROOT_DIR to use the bundled one."
        )
    return context.checkpoints.get(name)


def run_connection_checkpoint(
    connection: ConnectionSpec,
    suites: dict[str, dict[str, Any]],
    destinations: DestinationsResource,
    project_root: Path | None,
) -> CheckpointRun:
    """Run the connection's checkpoint by name, from the GX project when one is configured."""
    name = checkpoint_name(connection)
    unavailable: dict[str, str] = {}
    if project_root is not None:
        checkpoint = project_checkpoint(CONTEXTS.project(project_root), name, project_root)
        where = str(project_root)
    else:
        checkpoint, unavailable = bundled_checkpoint(
            CONTEXTS.bundled(destinations, connection), connection, suites, destinations
        )
        where = BUNDLED
    # Whole-table batches need no batch parameters; a project's checkpoint gets none either, as the
    # seeds' operator passed none.
    result = checkpoint.run(batch_parameters={}) if checkpoint is not None else None
    return CheckpointRun(
        checkpoint=name,
        project=where,
        result=result,
        unavailable=unavailable,
        asset_destinations=_asset_destinations(checkpoint) if checkpoint is not None else {},
    )
