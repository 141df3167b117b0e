"""The ways to run the Stripe transform, behind one resource interface (`StripeTransformResource`).

- `DatabricksRunNowTransform` (prod, default): the existing Databricks job, like the DAG's
  `DatabricksRunNowOperator(job_id=DATABRICKS_STRIPE_JOB_ID, notebook_params={s3_path, output_path})`.
  Built on dagster-databricks' `DatabricksClientResource` (auth, SDK client); dagster-databricks has
  no resource method for "run an existing job and wait" outside its op factory, so we call the SDK's
  `jobs.run_now(...)` and wait on its client, and turn failures into errors naming the variable.
- `DatabricksPipesTransform` (prod, DATABRICKS_TRANSFORM_MODE=pipes): `PipesDatabricksClient` submits
  `stripe_transform.py` as a one-off run and returns its reported materialization.
- `LocalPipesTransform` (local mode, in local_pipes.py: local only, never imported by prod paths): the
  same script and Pipes session as `DatabricksPipesTransform`, run by dagster's `PipesSubprocessClient`
  on local Spark. It replaced an in-process local Spark runner once bench/local_transform.py measured
  it no slower from a cold start (see bench/RESULTS.md).

Both Databricks paths are exercised against a loopback stand-in of the REST API in
airbyte_platform_tests/transforms/fake_databricks.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from dagster_databricks import DatabricksClientResource
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.jobs import Run

TRANSFORM_SCRIPT = Path(__file__).resolve().parent / "stripe_transform.py"

# The settings' names of the Databricks variables (settings.py reads them; errors name them).
HOST_VAR, TOKEN_VAR = "DATABRICKS_HOST", "DATABRICKS_TOKEN"
JOB_ID_VAR, CLUSTER_ID_VAR = "DATABRICKS_STRIPE_JOB_ID", "DATABRICKS_CLUSTER_ID"


class StripeTransformResource(dg.ConfigurableResource):
    """Runs the Stripe transform from `s3_path` to `output_path`; returns metadata for the asset."""

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
        raise NotImplementedError


class _DatabricksTransform(StripeTransformResource):
    """Shared by the Databricks paths. `host`/`token` rather than a nested `DatabricksClientResource`:
    that class lives in `dagster_databricks`, whose import (Databricks SDK, asset-bundle components,
    ~2 s) every process loading the code location would pay; the client is built in the step."""

    host: str = Field(description="DATABRICKS_HOST")
    token: str = Field(description="DATABRICKS_TOKEN (secret, via EnvVar)")
    request_retry_timeout_seconds: int = Field(
        default=300,
        description=(
            "How long the SDK keeps retrying a request that cannot connect or hits a transient error "
            "(its own default is 300 s) before the step fails."
        ),
    )

    def workspace_client(self) -> WorkspaceClient:
        from databricks.sdk import WorkspaceClient

        # The resource's client, with our retry budget: the SDK reads `retry_timeout_seconds` only when
        # a client is built, and dagster-databricks does not expose it.
        config = self.databricks().get_client().workspace_client.config.copy()
        config.retry_timeout_seconds = self.request_retry_timeout_seconds
        return WorkspaceClient(config=config)

    def databricks(self) -> DatabricksClientResource:
        from dagster_databricks import DatabricksClientResource

        return DatabricksClientResource(host=self.host, token=self.token)

    @contextmanager
    def explained_errors(self, what: str, id_var: str) -> Iterator[None]:
        """Turn SDK and network errors into failures that say which variable to check (`id_var`
        names the variable holding the job or cluster id `what` refers to)."""
        import requests
        from databricks.sdk.errors import (
            DatabricksError,
            InvalidParameterValue,
            NotFound,
            PermissionDenied,
            Unauthenticated,
        )

        host = self.host or "(unset)"
        try:
            yield
        except dg.Failure:
            raise
        except Unauthenticated as exc:
            raise dg.Failure(
                f"Databricks at {HOST_VAR}={host} rejected the token (401) while {what}: "
                f"check {TOKEN_VAR} (a valid personal access token for that workspace). ({exc})"
            ) from exc
        except PermissionDenied as exc:
            raise dg.Failure(
                f"Databricks at {HOST_VAR}={host} denied access (403) while {what}: the {TOKEN_VAR} "
                f"principal lacks permission, or the token belongs to another workspace. ({exc})"
            ) from exc
        except (NotFound, InvalidParameterValue) as exc:
            # run-now of an unknown job id answers 400 INVALID_PARAMETER_VALUE "Job N does not exist."
            raise dg.Failure(
                f"Databricks at {HOST_VAR}={host} refused {what}: {str(exc).rstrip('.')}. "
                f"Check {id_var} and that {HOST_VAR} is the right workspace."
            ) from exc
        except TimeoutError as exc:
            # The SDK retries connection errors until its retry budget runs out, then raises
            # TimeoutError from the last ConnectionError.
            if isinstance(exc.__cause__, requests.ConnectionError):
                raise dg.Failure(
                    f"Cannot reach Databricks at {HOST_VAR}={host} while {what} (retried for "
                    f"{self.request_retry_timeout_seconds} s): {exc.__cause__}"
                ) from exc
            raise
        except requests.ConnectionError as exc:
            raise dg.Failure(f"Cannot reach Databricks at {HOST_VAR}={host} while {what}: {exc}") from exc
        except DatabricksError as exc:
            raise dg.Failure(f"Databricks at {HOST_VAR}={host} failed while {what}: {exc}") from exc


class DatabricksRunNowTransform(_DatabricksTransform):
    job_id: int = Field(description="DATABRICKS_STRIPE_JOB_ID")
    timeout_minutes: int = Field(default=120)

    def run(self, context: dg.AssetExecutionContext, s3_path: str, output_path: str) -> dict[str, Any]:
        from databricks.sdk.errors import OperationFailed

        jobs = self.workspace_client().jobs
        # The DAG passed folder URLs ending in "/"; the existing notebook may append file names to them.
        params = {"s3_path": _folder_url(s3_path), "output_path": _folder_url(output_path)}
        what = f"running job {self.job_id} ({JOB_ID_VAR})"
        context.log.info(f"Running Databricks job {self.job_id} ({JOB_ID_VAR}) with {params}")
        started = time.monotonic()
        last_seen: list[Run] = []

        def progress(run: Run) -> None:
            state = run.state.life_cycle_state.value if run.state and run.state.life_cycle_state else "?"
            if not last_seen or last_seen[-1].state != run.state:
                context.log.info(f"Databricks run {run.run_id}: {state} {run.run_page_url or ''}")
            last_seen.append(run)

        with self.explained_errors(what, JOB_ID_VAR):
            run_id = jobs.run_now(job_id=self.job_id, notebook_params=params).response.run_id
            try:
                run = jobs.wait_get_run_job_terminated_or_skipped(
                    run_id=run_id, timeout=timedelta(minutes=self.timeout_minutes), callback=progress
                )
            except dg.DagsterExecutionInterruptedError:
                # The Dagster run was terminated: stop the Databricks run too, as Airflow's on_kill did.
                context.log.info(f"Cancelling Databricks run {run_id}")
                jobs.cancel_run(run_id=run_id)
                raise
            except OperationFailed as exc:  # INTERNAL_ERROR: the platform, not the notebook, failed
                url = last_seen[-1].run_page_url if last_seen else None
                raise dg.Failure(
                    f"Databricks run {run_id} of job {self.job_id} ({JOB_ID_VAR}) failed: {exc} ({url})",
                    metadata={"databricks/run_id": run_id, "databricks/run_url": url or ""},
                ) from exc
            except TimeoutError as exc:
                if exc.__cause__ is not None:  # a request's retries ran out, not the wait
                    raise
                raise dg.Failure(
                    f"Databricks run {run_id} of job {self.job_id} ({JOB_ID_VAR}) did not finish within "
                    f"{self.timeout_minutes} min (timeout_minutes); it is still running on Databricks."
                ) from exc
        state = run.state
        result = state.result_state.value if state and state.result_state else "UNKNOWN"
        run_url = run.run_page_url or ""
        if result != "SUCCESS":
            raise dg.Failure(
                f"Databricks run {run.run_id} of job {self.job_id} ({JOB_ID_VAR}) ended {result}: "
                f"{(state.state_message if state else '') or 'no message'} - see {run_url}",
                metadata={
                    "databricks/run_id": run.run_id,
                    "databricks/run_url": dg.MetadataValue.url(run_url),
                },
            )
        return {
            "engine": "databricks run-now",
            "databricks/job_id": self.job_id,
            "databricks/run_id": run.run_id,
            "databricks/run_url": dg.MetadataValue.url(run_url),
            # Databricks' own figure when it reports one (run_duration, ms), else the wall clock here.
            "duration_seconds": round(
                run.run_duration / 1000 if run.run_duration else time.monotonic() - started, 1
            ),
        }


class DatabricksPipesTransform(_DatabricksTransform):
    cluster_id: str = Field(description="DATABRICKS_CLUSTER_ID: the cluster the one-off run uses")
    script_dbfs_path: str = Field(default="dbfs:/airbyte_platform/stripe_transform.py")
    poll_interval_seconds: float = Field(
        default=5, description="How often the run's state is polled while it runs."
    )

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
        # Not re-exported by `dagster`; PipesDatabricksClient raises it when the run ends FAILED.
        from dagster._core.errors import DagsterPipesExecutionError
        from dagster_databricks import PipesDatabricksClient

        if not self.cluster_id:
            # settings do not require it; without it the submission would name cluster "".
            raise dg.Failure(
                f"{CLUSTER_ID_VAR} is not set: DATABRICKS_TRANSFORM_MODE=pipes runs on that cluster"
            )
        client = self.workspace_client()
        what = f"submitting stripe_transform.py on cluster {self.cluster_id} ({CLUSTER_ID_VAR})"
        with self.explained_errors(what, CLUSTER_ID_VAR):
            # The script must be where the task points: upload this repo's version on every run.
            with TRANSFORM_SCRIPT.open("rb") as script:
                client.dbfs.upload(self.script_dbfs_path.removeprefix("dbfs:"), script, overwrite=True)
            try:
                invocation = PipesDatabricksClient(
                    client=client, poll_interval_seconds=self.poll_interval_seconds
                ).run(
                    context=context,
                    task=self.submit_task(),
                    extras={"s3_path": s3_path, "output_path": output_path},
                )
            except DagsterPipesExecutionError as exc:  # the run ended FAILED / INTERNAL_ERROR
                raise dg.Failure(
                    f"Databricks Pipes run of stripe_transform.py on cluster {self.cluster_id} "
                    f"({CLUSTER_ID_VAR}) failed: {exc}"
                ) from exc
        return pipes_materialization_metadata(invocation, engine="databricks pipes")


def pipes_materialization_metadata(
    invocation: dg.PipesClientCompletedInvocation, engine: str
) -> dict[str, Any]:
    """The metadata stripe_transform.py reported through Pipes (and its client's, such as the
    Databricks run URL), whichever Pipes client ran it."""
    # No implicit materialization: a run that reported nothing did not run the transform.
    results = invocation.get_results(implicit_materializations=False)
    if not results:
        raise dg.Failure(
            f"The {engine} run succeeded but stripe_transform.py reported no materialization "
            "(did it open Dagster Pipes with the bootstrap parameters?)",
            metadata=dict(invocation.metadata),
        )
    metadata: dict[str, Any] = {"engine": engine}
    for result in results:
        metadata.update({k: v for k, v in (result.metadata or {}).items()})
    return metadata


def _folder_url(path: str) -> str:
    return path.rstrip("/") + "/"
