"""Local mode's Databricks stand-in: stripe_transform.py on local Spark, run the way prod runs it.

`LocalPipesTransform` starts the script as a subprocess through dagster's `PipesSubprocessClient`: the
same file, the same `open_dagster_pipes` session and the same reported materialization as the prod
Pipes path (`DatabricksPipesTransform`); only the transport differs (temp files here, DBFS there).
Local only: it needs a JDK on this machine, which the production image does not have.

Measured before choosing it (bench/local_transform.py, cold starts: every Dagster run is its own
process, so no Spark session outlives a run; 20,000 charges): the subprocess costs no more than the
former in-process Spark step. Step medians Pipes / in-process over three runs were 0.79, 1.11 and 0.98
(latest 28.3 s vs 28.9 s), within the run-to-run noise of a shared 2-core machine; the only added fixed
costs are a second interpreter (pyspark is imported there instead of in the step's process) and the
JVM's shutdown inside the step. Latest figures: bench/RESULTS.md.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from airbyte_platform.transforms.databricks.runners import (
    TRANSFORM_SCRIPT,
    StripeTransformResource,
    pipes_materialization_metadata,
)

# pyspark's error class when its JVM did not start (no java, a broken JAVA_HOME).
JVM_DID_NOT_START = "JAVA_GATEWAY_EXITED"
STDERR_TAIL_CHARS = 4000
STDERR_FILE_VAR = "STRIPE_TRANSFORM_STDERR_FILE"


class LocalPipesTransform(StripeTransformResource):
    shuffle_partitions: int = Field(
        default=4, description="Small inputs: few shuffle partitions keep it fast."
    )
    spark_master: str = Field(default="local[2]", description="The local Spark master the script uses.")

    def spark_submit_args(self) -> str:
        """The Spark configuration the script's `SparkSession.builder.getOrCreate()` picks up: on
        Databricks the cluster provides it; here pyspark reads it from PYSPARK_SUBMIT_ARGS."""
        conf = {
            "spark.sql.shuffle.partitions": self.shuffle_partitions,
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.host": "127.0.0.1",  # no lookup of this machine's name
        }
        options = " ".join(f"--conf {key}={value}" for key, value in conf.items())
        return f"--master {self.spark_master} {options} pyspark-shell"

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
        # Not re-exported by `dagster`; PipesSubprocessClient raises it when the script exits non-zero.
        from dagster._core.errors import DagsterPipesExecutionError

        context.log.info(f"Stripe transform on local Spark through Pipes: {s3_path} -> {output_path}")
        with tempfile.TemporaryDirectory(prefix="stripe-transform-") as folder:
            stderr_path = Path(folder) / "stderr.txt"
            try:
                invocation = dg.PipesSubprocessClient().run(
                    context=context,
                    command=_command_with_stderr_to_file(),
                    env={"PYSPARK_SUBMIT_ARGS": self.spark_submit_args(), STDERR_FILE_VAR: str(stderr_path)},
                    extras={"s3_path": s3_path, "output_path": output_path},
                )
            except DagsterPipesExecutionError as exc:
                raise dg.Failure(_failure_description(str(exc), _replay(stderr_path))) from exc
            _replay(stderr_path)
        return pipes_materialization_metadata(invocation, engine="local spark")


def _command_with_stderr_to_file() -> list[str]:
    """`python stripe_transform.py`, its stderr (Python's and the JVM's: the JVM inherits it) written to
    the file named by STDERR_FILE_VAR. PipesSubprocessClient either forwards the child's stdio or pipes
    it without reading it (a chatty Spark would fill the pipe and hang), so the shell redirects it;
    `exec` keeps the script the process PipesSubprocessClient signals when the run is terminated."""
    return ["/bin/sh", "-c", f'exec "$0" "$@" 2>"${STDERR_FILE_VAR}"', sys.executable, str(TRANSFORM_SCRIPT)]


def _replay(stderr_path: Path) -> str:
    """Copy the script's stderr to this step's stderr (the run's compute log) and return it. Once the
    script has ended: Spark's warnings arrive together, after the step's Pipes events."""
    text = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
    sys.stderr.write(text)
    sys.stderr.flush()
    return text


def _failure_description(error: str, stderr: str) -> str:
    tail = stderr[-STDERR_TAIL_CHARS:].strip() or "(nothing on stderr)"
    if JVM_DID_NOT_START in stderr:
        java = shutil.which("java")
        cause = f"`{java}` failed" if java else "no `java` on PATH"
        return (
            f"local Spark (the Databricks stand-in) could not start its JVM: {cause}. Install a JDK 17 "
            "or 21 (e.g. `apt install openjdk-17-jre-headless`) or set JAVA_HOME. "
            f"stripe_transform.py's stderr:\n{tail}"
        )
    return f"stripe_transform.py on local Spark failed ({error}). Its stderr:\n{tail}"
