"""The Stripe transform on local Spark: manifest-aware reads, revenue net of refunds."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airbyte_platform.transforms.databricks.stripe_transform import transform
from airbyte_platform_tests.transforms.stripe_rows import CHARGES, REFUNDS

# Local Spark (a JVM per session, ~15 s to start on 2 cores): the slow lane of make test.
pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.slow]


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


@pytest.mark.parametrize("with_manifest", [True, False], ids=["embedded-lake", "airbyte-s3-layout"])
def test_every_version_in_the_lake_counts_once_the_latest(spark, tmp_path, with_manifest):
    # Incremental syncs only append: a re-read ch_1 and a newer version of ch_3 (first pending at 600,
    # then succeeded at 700, same `created`: the later file wins) must not change the revenue.
    pending = {**CHARGES[2], "amount": 600, "status": "pending"}
    for name, first, later in (
        ("charges", [*CHARGES[:2], pending], [CHARGES[0], CHARGES[2]]),
        ("refunds", REFUNDS, []),
    ):
        folder = tmp_path / "in" / name
        folder.mkdir(parents=True)
        files = [
            "part-20260101T000000Z-00000001-00000.parquet",
            "part-20260102T000000Z-00000002-00000.parquet",
        ]
        pq.write_table(pa.Table.from_pylist(first), folder / files[0])
        if later:
            pq.write_table(pa.Table.from_pylist(later), folder / files[1])
        else:
            files = files[:1]
        if with_manifest:
            manifest = {"files": files, "primary_key": ["id"], "cursor_field": "created"}
            (folder / "_manifest.json").write_text(json.dumps(manifest))

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
