"""The Stripe transform on local Spark: manifest-aware reads, revenue net of refunds."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airbyte_platform.transforms.databricks.stripe_transform import transform
from airbyte_platform_tests.transforms.stripe_rows import CHARGES, REFUNDS

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", 2)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    yield session
    session.stop()


def _stream(root, name, rows, with_manifest=True):
    folder = root / name
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-1.parquet")
    if with_manifest:
        # A file of an earlier full refresh, no longer published: it must not be read.
        pq.write_table(pa.Table.from_pylist(rows), folder / "stale.parquet")
        (folder / "_manifest.json").write_text(json.dumps({"files": ["part-1.parquet"]}))


@pytest.mark.parametrize("with_manifest", [True, False], ids=["embedded-lake", "airbyte-s3-layout"])
def test_daily_revenue_is_net_of_refunds(spark, tmp_path, with_manifest):
    _stream(tmp_path / "in", "charges", CHARGES, with_manifest)
    _stream(tmp_path / "in", "refunds", REFUNDS, with_manifest)
    counts = transform(spark, str(tmp_path / "in"), str(tmp_path / "out"))
    assert counts == {"daily_revenue": 2, "customer_revenue": 2}
    rows = {
        (str(r["day"]), r["currency"]): (
            r["gross_amount"],
            r["refunded_amount"],
            r["net_amount"],
            r["charges"],
        )
        for r in spark.read.parquet(str(tmp_path / "out" / "daily_revenue")).collect()
    }
    assert rows == {("1970-01-02", "usd"): (1000, 300, 700, 1), ("1970-01-03", "eur"): (700, 0, 700, 1)}


def test_empty_manifest_is_a_clear_error(spark, tmp_path):
    folder = tmp_path / "in" / "charges"
    folder.mkdir(parents=True)
    (folder / "_manifest.json").write_text(json.dumps({"files": []}))
    with pytest.raises(ValueError, match="charges: the manifest lists no files"):
        transform(spark, str(tmp_path / "in"), str(tmp_path / "out"))
