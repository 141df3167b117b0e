"""Local `processed/stripe`: stripe_transform.py through Pipes (a subprocess) vs in-process local Spark.

The candidate is local mode's `LocalPipesTransform`: dagster's `PipesSubprocessClient` runs
stripe_transform.py with the Pipes session prod's Databricks path opens. The baseline, measured in the
same run, is the former local runner (`LocalSparkTransform`, kept below as `InProcessSparkTransform`):
the same transform function on a SparkSession started inside the step's process, same Spark settings.

Every repeat is a cold start in a fresh Python process (each Dagster run executes in its own process,
so no SparkSession outlives a run): import, materialize `processed/stripe` on one generated lake
input (embedded-lake layout with manifests), exit. Repeats alternate candidate and baseline so a busy
machine weighs on both alike. Figures: the step's wall time (the materialize call), the process's wall
time, medians, and candidate / baseline ratios; the row counts each reported must agree.

Usage: .venv/bin/python bench/local_transform.py [--repeats 3] [--charges 20000]
Writes the `local_transform` key of bench/results.json (merged: the other benchmarks' keys stay).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_file import merge_results

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # runnable as a plain script from any directory

# One materialization of processed/stripe in this fresh process; argv: variant, lake root.
MATERIALIZE = """
import json, sys, time
import dagster as dg
from pydantic import Field
from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.transforms.databricks.assets import processed_stripe
from airbyte_platform.transforms.databricks.runners import StripeTransformResource


class InProcessSparkTransform(StripeTransformResource):
    # The baseline: the former LocalSparkTransform, the transform on a SparkSession in this process.
    shuffle_partitions: int = Field(default=4)

    def run(self, context, s3_path, output_path):
        from pyspark.sql import SparkSession
        from airbyte_platform.transforms.databricks.stripe_transform import transform

        spark = (
            SparkSession.builder.master("local[2]")
            .appName("stripe_transform")
            .config("spark.sql.shuffle.partitions", self.shuffle_partitions)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.host", "127.0.0.1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
        counts = transform(spark, s3_path, output_path)
        return {"engine": "local spark", "dagster/row_count": counts["daily_revenue"],
                **{f"rows/{name}": n for name, n in counts.items()}}


variant, lake_root = sys.argv[1], sys.argv[2]
if variant == "pipes":
    from airbyte_platform.transforms.databricks.local_pipes import LocalPipesTransform
    transform_resource = LocalPipesTransform()
else:
    transform_resource = InProcessSparkTransform()
started = time.monotonic()
result = dg.materialize(
    [processed_stripe],
    resources={
        "databricks_transform": transform_resource,
        "destinations": DestinationsResource(lake_root=lake_root, home=lake_root),
    },
    raise_on_error=False,
)
seconds = time.monotonic() - started
if not result.success:
    sys.exit(f"{variant}: processed/stripe failed")
metadata = result.asset_materializations_for_node("processed__stripe")[0].metadata
rows = {k: v.value for k, v in metadata.items() if k.startswith("rows/")}
print("RESULT " + json.dumps({"step_seconds": seconds, "rows": rows}))
"""

VARIANTS = {"pipes": "Pipes subprocess (LocalPipesTransform)", "in_process": "in-process local Spark"}


def write_lake(root: Path, charges: int, seed: int = 7) -> None:
    """Stripe charges and refunds as the embedded runner writes them: two files per stream (the second
    re-sends some records, as incremental syncs do) and a manifest with the stream's key and cursor."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    day = 86_400
    charge_rows = [
        {
            "id": f"ch_{i}",
            "customer": f"cus_{rng.randrange(charges // 20 + 1)}",
            "currency": rng.choice(["usd", "USD", "eur", "gbp"]),
            "amount": rng.randrange(100, 100_000),
            "status": rng.choice(["succeeded"] * 9 + ["failed"]),
            "created": day * (1 + rng.randrange(365)) + rng.randrange(day),
        }
        for i in range(charges)
    ]
    refund_rows = [
        {
            "id": f"re_{i}",
            "charge": f"ch_{rng.randrange(charges)}",
            "amount": rng.randrange(50, 5_000),
            "status": rng.choice(["succeeded", "succeeded", "failed"]),
            "created": day * (1 + rng.randrange(365)),
        }
        for i in range(charges // 10)
    ]
    for stream, rows in (("charges", charge_rows), ("refunds", refund_rows)):
        folder = root / "airbyte" / "stripe" / stream
        folder.mkdir(parents=True)
        files = ["part-00001.parquet", "part-00002.parquet"]
        pq.write_table(pa.Table.from_pylist(rows), folder / files[0])
        pq.write_table(pa.Table.from_pylist(rows[: len(rows) // 10]), folder / files[1])
        manifest = {"files": files, "primary_key": ["id"], "cursor_field": "created"}
        (folder / "_manifest.json").write_text(json.dumps(manifest))


def cold_run(variant: str, lake_root: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", MATERIALIZE, variant, str(lake_root)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
    )
    process_seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{completed.stderr[-4000:]}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    return {**json.loads(line.removeprefix("RESULT ")), "process_seconds": process_seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--charges", type=int, default=20_000)
    args = parser.parse_args()

    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-local-transform-") as folder:
        lake = Path(folder)
        write_lake(lake, args.charges)
        for repeat in range(args.repeats):
            # Alternate which variant goes first: neither always runs on a machine the other warmed.
            order = list(VARIANTS) if repeat % 2 == 0 else list(reversed(VARIANTS))
            for variant in order:
                run = cold_run(variant, lake)
                runs[variant].append(run)
                print(
                    f"{variant}: step {run['step_seconds']:.1f} s, process {run['process_seconds']:.1f} s",
                    flush=True,
                )
    rows = {
        variant: {json.dumps(run["rows"], sort_keys=True) for run in done} for variant, done in runs.items()
    }
    if len(rows["pipes"] | rows["in_process"]) != 1:
        raise RuntimeError(f"the variants reported different row counts: {rows}")

    def median(variant: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[variant])

    figures: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": f"python bench/local_transform.py --repeats {args.repeats} --charges {args.charges}",
        # Shared machines: the load says how far the timings are from a quiet run's.
        "load_average_1m_at_start": round(load_at_start, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "input": {
            "charges": args.charges,
            "refunds": args.charges // 10,
            "rows": json.loads(rows["pipes"].pop()),
        },
        "baseline": VARIANTS["in_process"],
        "candidate": VARIANTS["pipes"],
    }
    for variant in VARIANTS:
        figures[variant] = {
            "step_seconds": [round(run["step_seconds"], 1) for run in runs[variant]],
            "process_seconds": [round(run["process_seconds"], 1) for run in runs[variant]],
            "step_seconds_median": round(median(variant, "step_seconds"), 1),
            "process_seconds_median": round(median(variant, "process_seconds"), 1),
        }
    for key in ("step_seconds", "process_seconds"):
        figures[f"pipes_over_in_process_{key.removesuffix('_seconds')}"] = round(
            median("pipes", key) / median("in_process", key), 2
        )
    merge_results("local_transform", figures)
    for key, value in figures.items():
        print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
