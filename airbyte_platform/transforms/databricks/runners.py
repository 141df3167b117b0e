"""Three ways to run the Stripe transform, one resource interface.

- `LocalSparkTransform` (local mode): the transform code on local Spark.
- `DatabricksRunNowTransform` (prod, default): the existing Databricks job, like the DAG's
  `DatabricksRunNowOperator(job_id=DATABRICKS_STRIPE_JOB_ID, notebook_params={s3_path, output_path})`.
  Built on dagster-databricks' `DatabricksClientResource` (auth, SDK client); dagster-databricks has
  no resource method for "run an existing job and wait" outside its op factory, so we call the SDK's
  `jobs.run_now(...).result()` on its client and turn failures into errors naming the variable.
- `DatabricksPipesTransform` (prod, DATABRICKS_TRANSFORM_MODE=pipes): `PipesDatabricksClient` submits
  `stripe_transform.py` as a one-off run and returns its reported materialization.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_databricks import DatabricksClientResource, PipesDatabricksClient
from pydantic import Field

TRANSFORM_SCRIPT = Path(__file__).resolve().parent / "stripe_transform.py"


class StripeTransformResource(dg.ConfigurableResource):
    """Runs the Stripe transform from `s3_path` to `output_path`; returns metadata for the asset."""

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
        raise NotImplementedError


class LocalSparkTransform(StripeTransformResource):
    shuffle_partitions: int = Field(
        default=4, description="Small inputs: few shuffle partitions keep it fast."
    )

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
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
        context.log.info(f"Stripe transform on local Spark {spark.version}: {s3_path} -> {output_path}")
        counts = transform(spark, s3_path, output_path)
        return {"engine": "local spark", **_counts_metadata(counts)}


class DatabricksRunNowTransform(StripeTransformResource):
    databricks: DatabricksClientResource
    job_id: int = Field(description="DATABRICKS_STRIPE_JOB_ID")
    timeout_minutes: int = Field(default=120)

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
        from databricks.sdk.errors import DatabricksError, NotFound

        jobs = self.databricks.get_client().workspace_client.jobs
        params = {"s3_path": s3_path, "output_path": output_path}
        context.log.info(f"Running Databricks job {self.job_id} (DATABRICKS_STRIPE_JOB_ID) with {params}")
        started = time.monotonic()
        try:
            waiter = jobs.run_now(job_id=self.job_id, notebook_params=params)
            run = waiter.result(timeout=timedelta(minutes=self.timeout_minutes))
        except NotFound as exc:
            raise dg.Failure(
                f"Databricks job {self.job_id} not found: check DATABRICKS_STRIPE_JOB_ID and DATABRICKS_HOST ({exc})"
            ) from exc
        except DatabricksError as exc:
            raise dg.Failure(
                f"Databricks job {self.job_id} (DATABRICKS_STRIPE_JOB_ID) failed: {exc}"
            ) from exc
        state = run.state
        result = state.result_state.value if state and state.result_state else "UNKNOWN"
        if result != "SUCCESS":
            raise dg.Failure(
                f"Databricks run {run.run_id} of job {self.job_id} ended {result}: "
                f"{state.state_message if state else ''} ({run.run_page_url})"
            )
        return {
            "engine": "databricks run-now",
            "databricks/job_id": self.job_id,
            "databricks/run_id": run.run_id,
            "databricks/run_url": dg.MetadataValue.url(run.run_page_url or ""),
            "duration_seconds": round(time.monotonic() - started, 1),
        }


class DatabricksPipesTransform(StripeTransformResource):
    databricks: DatabricksClientResource
    cluster_id: str = Field(description="DATABRICKS_CLUSTER_ID: the cluster the one-off run uses")
    script_dbfs_path: str = Field(default="dbfs:/airbyte_platform/stripe_transform.py")

    def submit_task(self) -> Any:
        from databricks.sdk.service import jobs

        return jobs.SubmitTask.from_dict(
            {
                "task_key": "stripe_transform",
                "existing_cluster_id": self.cluster_id,
                "spark_python_task": {
                    "python_file": self.script_dbfs_path,
                    "source": jobs.Source.WORKSPACE.value,
                },
                "libraries": [{"pypi": {"package": "dagster-pipes"}}],
            }
        )

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
        client = self.databricks.get_client().workspace_client
        # The script must be where the task points: upload this repo's version on every run.
        client.dbfs.upload(
            self.script_dbfs_path.removeprefix("dbfs:"), TRANSFORM_SCRIPT.open("rb"), overwrite=True
        )
        invocation = PipesDatabricksClient(client=client).run(
            context=context,
            task=self.submit_task(),
            extras={"s3_path": s3_path, "output_path": output_path},
        )
        results = invocation.get_results()
        metadata: dict[str, Any] = {"engine": "databricks pipes"}
        for result in results:
            metadata.update({k: v for k, v in (result.metadata or {}).items()})
        return metadata


def _counts_metadata(counts: dict[str, int]) -> dict[str, Any]:
    return {"dagster/row_count": counts["daily_revenue"], **{f"rows/{name}": n for name, n in counts.items()}}
