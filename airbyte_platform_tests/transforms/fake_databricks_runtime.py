"""What a Databricks cluster gives a `spark_python_task`, closely enough for the Pipes round trip.

Usage: python fake_databricks_runtime.py DBFS_ROOT SCRIPT [PARAMETERS...]

- a SparkSession already created (local Spark here) carrying the `clusterUsageTags` Databricks sets
  on every cluster (dagster-pipes' DBFS message writer reads them);
- DBFS mounted at `/dbfs`: this process maps `open("/dbfs/...")` to DBFS_ROOT, the folder that
  the loopback REST stand-in (fake_databricks.py) serves, instead of a FUSE mount;
- DATABRICKS_RUNTIME_VERSION set, as in every cluster process;
- the script run as `__main__` with the task's parameters as its command line.
"""

from __future__ import annotations

import builtins
import os
import runpy
import sys
from typing import Any


def mount_dbfs(root: str) -> None:
    real_open = builtins.open

    def dbfs_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str) and file.startswith("/dbfs/"):
            file = os.path.join(root, file.removeprefix("/dbfs/"))
        return real_open(file, *args, **kwargs)

    builtins.open = dbfs_open


def start_spark(cluster_id: str) -> None:
    from pyspark.sql import SparkSession

    # Tiny inputs on a shared CI machine: the JVM's quick compiler only, and no whole-stage codegen
    # or adaptive planning; each otherwise costs seconds of warm-up per run.
    os.environ.setdefault(
        "PYSPARK_SUBMIT_ARGS", "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell"
    )
    spark = (
        SparkSession.builder.master("local[1]")
        .appName(f"fake-databricks-{cluster_id}")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.databricks.clusterUsageTags.clusterId", cluster_id)
        .config("spark.databricks.clusterUsageTags.clusterLogDeliveryEnabled", "")  # no log delivery
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")


def main() -> None:
    dbfs_root, script, *parameters = sys.argv[1:]
    os.environ["DATABRICKS_RUNTIME_VERSION"] = "15.4"  # set in every cluster process
    mount_dbfs(dbfs_root)
    start_spark(os.environ.get("FAKE_DATABRICKS_CLUSTER_ID", "local"))
    sys.argv = [script, *parameters]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
