"""The Stripe transform: lake Stripe tables -> processed revenue tables. Runs unchanged on Databricks
(job task or Pipes submission) and on local Spark (a Pipes subprocess, local mode).

Self-contained on purpose (only pyspark, plus dagster-pipes when present): Databricks runs this file
without the rest of the package installed.

Inputs under `s3_path`: one folder per stream (`charges/`, `refunds/`, ...). A folder written by the
embedded runner has a `_manifest.json` listing its published files; a folder written by Airbyte's S3
destination does not, and then every Parquet file in it is read. Both only append to incremental
streams: each record's versions are all there, and the transform takes the latest per primary key.

Outputs under `output_path`: `daily_revenue/` (day, currency: gross, refunds, net, charges) and
`customer_revenue/` (customer, currency: gross, refunds, net, charges), amounts in cents.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

OUTPUT_TABLES = ("daily_revenue", "customer_revenue")


def read_text(spark: Any, path: str) -> str | None:
    """A small file through Hadoop's FileSystem (s3a/dbfs/file alike); None when it does not exist.

    Not `spark.read.text`: Spark's file sources skip `_`-prefixed files such as `_manifest.json`.
    """
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    filesystem = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not filesystem.exists(hadoop_path):
        return None
    stream = filesystem.open(hadoop_path)
    try:
        return jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


# Without a manifest (folders written by Airbyte's S3 destination), the streams' keys as declared in
# connections.yaml: Airbyte's S3 destination only appends, so every version of a record is there.
DEFAULT_KEYS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "charges": (("id",), "created"),
    "refunds": (("id",), "created"),
}


def stream_dataframe(spark: Any, s3_path: str, stream: str) -> Any:
    """The stream's rows, one per primary key (the latest version), whoever wrote the folder."""
    folder = f"{s3_path.rstrip('/')}/{stream}"
    manifest_text = read_text(spark, f"{folder}/_manifest.json")
    if manifest_text is None:  # a plain Airbyte S3 destination folder
        keys, cursor = DEFAULT_KEYS.get(stream, ((), None))
        return latest_per_key(spark.read.parquet(folder), keys, cursor, files=None)
    manifest = json.loads(manifest_text)
    files = manifest["files"]
    if not files:
        raise ValueError(f"{folder}: the manifest lists no files (was the stream ever synced?)")
    frame = spark.read.option("mergeSchema", True).parquet(*[f"{folder}/{name}" for name in files])
    return latest_per_key(
        frame, tuple(manifest.get("primary_key") or ()), manifest.get("cursor_field"), files
    )


def latest_per_key(frame: Any, keys: tuple[str, ...], cursor: str | None, files: list[str] | None) -> Any:
    """One row per key: the latest by cursor (null = oldest), then `_airbyte_extracted_at`, then the
    file written last (manifest order; else file path) and the row written last in it, the order the
    embedded lake's readers use. Rows with a null key field cannot be matched and are all kept."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not keys or not all(key in frame.columns for key in keys):
        return frame
    file_name = F.col("_metadata.file_name")
    if files is not None:
        names = F.array(*[F.lit(name.rsplit("/", 1)[-1]) for name in files])
        file_order = F.array_position(names, file_name)
    else:
        file_order = F.col("_metadata.file_path")
    order = [F.col(cursor).desc_nulls_last()] if cursor and cursor in frame.columns else []
    if "_airbyte_extracted_at" in frame.columns:
        order.append(F.col("_airbyte_extracted_at").desc_nulls_last())
    order += [F.col("_lake_file").desc(), F.col("_lake_row").desc()]
    ranked = frame.withColumn("_lake_file", file_order).withColumn("_lake_row", F.col("_metadata.row_index"))
    no_key = F.lit(False)
    for key in keys:
        no_key = no_key | F.col(key).isNull()
    window = Window.partitionBy(*keys).orderBy(*order)
    return (
        ranked.withColumn("_lake_rank", F.row_number().over(window))
        .where(no_key | (F.col("_lake_rank") == 1))
        .drop("_lake_rank", "_lake_file", "_lake_row")
    )


def transform(spark: Any, s3_path: str, output_path: str) -> dict[str, int]:
    """Build the processed tables; returns the row count of each."""
    from pyspark.sql import functions as F

    charges = stream_dataframe(spark, s3_path, "charges").where(F.col("status") == "succeeded")
    refunds = stream_dataframe(spark, s3_path, "refunds").where(F.col("status") != "failed")
    charges = charges.select(
        "id",
        "customer",
        F.lower(F.col("currency")).alias("currency"),
        F.col("amount").cast("long").alias("amount"),
        F.to_date(F.from_unixtime(F.col("created"))).alias("day"),
    )
    refunded = refunds.groupBy(F.col("charge").alias("charge_id")).agg(
        F.sum(F.col("amount").cast("long")).alias("refunded")
    )
    per_charge = charges.join(refunded, charges.id == refunded.charge_id, "left").withColumn(
        "refunded", F.coalesce(F.col("refunded"), F.lit(0))
    )

    def summarize(*keys: str) -> Any:
        return per_charge.groupBy(*keys).agg(
            F.sum("amount").alias("gross_amount"),
            F.sum("refunded").alias("refunded_amount"),
            (F.sum("amount") - F.sum("refunded")).alias("net_amount"),
            F.count("id").alias("charges"),
        )

    outputs = {
        "daily_revenue": summarize("day", "currency").orderBy("day", "currency"),
        "customer_revenue": summarize("customer", "currency").orderBy("customer", "currency"),
    }
    counts: dict[str, int] = {}
    for name, frame in outputs.items():
        frame = frame.cache()
        frame.write.mode("overwrite").parquet(f"{output_path.rstrip('/')}/{name}")
        counts[name] = frame.count()
    return counts


def _parameters(argv: list[str]) -> tuple[str, str]:
    """Job parameters: notebook widgets on Databricks (run-now notebook_params), else --s3_path/--output_path."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3_path")
    parser.add_argument("--output_path")
    args, _ = parser.parse_known_args(argv)
    if args.s3_path and args.output_path:
        return args.s3_path, args.output_path
    try:  # a Databricks notebook task
        dbutils = globals()["dbutils"]
        return dbutils.widgets.get("s3_path"), dbutils.widgets.get("output_path")
    except KeyError as exc:
        raise SystemExit(
            "stripe_transform needs --s3_path and --output_path (or the notebook widgets)"
        ) from exc


def _pipes_params_loader() -> Any:
    """The loader of the Pipes bootstrap parameters this process was given, or None without Pipes.

    On an existing cluster PipesDatabricksClient passes them as task parameters
    (`--dagster-pipes-context ...`), on a new cluster as environment variables; the default loader
    of `open_dagster_pipes` reads only the latter. Neither present: a plain run (run-now, spark-submit).
    """
    try:
        from dagster_pipes import PipesCliArgsParamsLoader, PipesEnvVarParamsLoader
    except ImportError:
        return None
    loaders = (PipesCliArgsParamsLoader(), PipesEnvVarParamsLoader())
    return next((loader for loader in loaders if loader.is_dagster_pipes_process()), None)


def _pipes_transport() -> tuple[Any, Any]:
    """Where the Pipes context is read and the messages written: DBFS on a Databricks cluster
    (PipesDatabricksClient, prod), plain files elsewhere (PipesSubprocessClient, local mode).
    Databricks sets DATABRICKS_RUNTIME_VERSION in every cluster process."""
    import dagster_pipes

    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return dagster_pipes.PipesDbfsContextLoader(), dagster_pipes.PipesDbfsMessageWriter()
    return dagster_pipes.PipesDefaultContextLoader(), dagster_pipes.PipesDefaultMessageWriter()


def main(argv: list[str]) -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    params_loader = _pipes_params_loader()
    if params_loader is None:
        s3_path, output_path = _parameters(argv)
        print(json.dumps(transform(spark, s3_path, output_path)))
        return
    from dagster_pipes import open_dagster_pipes

    context_loader, message_writer = _pipes_transport()
    with open_dagster_pipes(
        params_loader=params_loader, context_loader=context_loader, message_writer=message_writer
    ) as pipes:
        s3_path, output_path = pipes.get_extra("s3_path"), pipes.get_extra("output_path")
        counts = transform(spark, s3_path, output_path)
        pipes.report_asset_materialization(
            metadata={
                "dagster/row_count": counts["daily_revenue"],
                **{f"rows/{k}": v for k, v in counts.items()},
            }
        )


if __name__ == "__main__":
    main(sys.argv[1:])
