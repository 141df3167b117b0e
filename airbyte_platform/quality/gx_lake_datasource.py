"""A Great Expectations data source for the lake: each asset is one lake table, read as its readers see it.

Why a data source of our own: GX's pandas dataframe assets take their dataframe from the run's
`batch_parameters`, which a checkpoint passes unchanged to every validation definition, so one
checkpoint could not validate five streams. GX's file assets would read the Parquet files as stored,
with every appended version of a record (the lake appends, as Airbyte's S3 destination does) and
no manifest. This asset reads through `read_lake_table`, as the row count and the transform do: the
published files only, latest version per key.

Importing this module registers the types with GX (`context.data_sources.add_airbyte_lake`, type
`airbyte_lake` in a project's great_expectations.yml, where `lake_root: ${DATALAKE_ROOT}` works),
so it is imported only where GX runs, never when the code location loads.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Union

from great_expectations.datasource.fluent.batch_request import BatchRequest
from great_expectations.datasource.fluent.config_str import ConfigStr
from great_expectations.datasource.fluent.interfaces import Batch, TestConnectionError
from great_expectations.datasource.fluent.pandas_datasource import DataFrameAsset, PandasDatasource

from airbyte_platform.core.lake import LakeError, lake_files, read_lake_table, read_manifest


class LakeTableAsset(DataFrameAsset):
    """One lake table (`location`: its folder under the data source's `lake_root`, e.g. airbyte/stripe/charges)."""

    type: Literal["airbyte_lake_table"] = "airbyte_lake_table"  # type: ignore[assignment]
    location: str

    def full_location(self) -> str:
        root = self.datasource.resolved_lake_root()  # type: ignore[attr-defined]
        return f"{root.rstrip('/')}/{self.location.strip('/')}"

    def test_connection(self) -> None:
        # GX calls this when the asset is added, as it probes a SQL table.
        location = self.full_location()
        try:
            published = read_manifest(location) is not None or bool(lake_files(location))
        except (OSError, LakeError):
            published = False
        if not published:
            raise TestConnectionError(f"{location}: no sync has published this table yet")

    def build_batch_request(self, options=None, batch_slice=None, partitioner=None) -> BatchRequest:  # type: ignore[no-untyped-def,override]
        # The whole table is the only batch: run-wide batch parameters (a checkpoint's) are ignored.
        return BatchRequest(datasource_name=self.datasource.name, data_asset_name=self.name, options={})

    def _validate_batch_request(self, batch_request: BatchRequest) -> None:
        return None

    def get_batch(self, batch_request: BatchRequest) -> Batch:
        frame = read_lake_table(self.full_location()).to_pandas()
        return super().get_batch(
            BatchRequest(
                datasource_name=self.datasource.name,
                data_asset_name=self.name,
                options={"dataframe": frame},
            )
        )


class LakeDatasource(PandasDatasource):
    """The lake (a local folder or `s3://bucket`), with one `airbyte_lake_table` asset per stream."""

    type: Literal["airbyte_lake"] = "airbyte_lake"  # type: ignore[assignment]
    asset_types: ClassVar = [LakeTableAsset]
    assets: list[LakeTableAsset] = []  # type: ignore[assignment]
    # `${DATALAKE_ROOT}` in a project's great_expectations.yml is resolved when read, as GX does for
    # its own connection strings.
    lake_root: Union[ConfigStr, str]  # noqa: UP007  pydantic v1, as GX's own fields
    # Data source fields become pandas execution engine arguments unless excluded.
    _EXTRA_EXCLUDED_EXEC_ENG_ARGS: ClassVar[set[str]] = {"lake_root"}

    def resolved_lake_root(self) -> str:
        root = self.lake_root
        return root.get_config_value(self._config_provider) if isinstance(root, ConfigStr) else root

    def add_lake_table_asset(self, name: str, location: str) -> LakeTableAsset:
        return self._add_asset(LakeTableAsset(name=name, location=location))
