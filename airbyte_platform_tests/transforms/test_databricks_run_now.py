"""The prod run-now path (`DatabricksRunNowTransform`, as prod settings build it) against the loopback
Databricks stand-in: what the Databricks SDK sends, and what the asset reports or raises."""

from __future__ import annotations

import socket

import dagster as dg
import pytest

from airbyte_platform.ingestion.local_defs import build_destinations_resource
from airbyte_platform.settings import Settings
from airbyte_platform.transforms.databricks.assets import processed_stripe
from airbyte_platform.transforms.databricks.runners import DatabricksRunNowTransform
from airbyte_platform.transforms.resources import build_transform_resources
from airbyte_platform_tests.transforms.fake_databricks import (
    PENDING,
    RUNNING,
    SUCCESS,
    TOKEN,
    FakeDatabricks,
    RunState,
    failed,
)
from airbyte_platform_tests.transforms.prod_support import STRIPE_JOB_ID, ProdSettings, failure_text


def _materialize(settings: Settings, transform: object | None = None) -> dg.ExecuteInProcessResult:
    resources = build_transform_resources(settings)
    return dg.materialize(
        [processed_stripe],
        resources={
            "databricks_transform": transform or resources["databricks_transform"],
            "destinations": build_destinations_resource(settings),
        },
        raise_on_error=False,
    )


def test_run_now_sends_the_dag_parameters_and_reports_the_run(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    fake_databricks.lifecycle = [PENDING, RUNNING, SUCCESS]
    settings = prod_settings(DATABRICKS_HOST=fake_databricks.host)  # default lake: s3://biz-datalake-dev
    assert isinstance(build_transform_resources(settings)["databricks_transform"], DatabricksRunNowTransform)

    result = _materialize(settings)

    assert result.success, failure_text(result)
    [run_now] = fake_databricks.calls("POST", "/api/2.2/jobs/run-now")
    # Exactly the DAG's DatabricksRunNowOperator call: job from DATABRICKS_STRIPE_JOB_ID, folder URLs.
    assert run_now.body == {
        "job_id": STRIPE_JOB_ID,
        "notebook_params": {
            "s3_path": "s3://biz-datalake-dev/airbyte/stripe/",
            "output_path": "s3://biz-datalake-dev/processed/stripe/",
        },
    }
    assert {r.authorization for r in fake_databricks.requests} == {f"Bearer {TOKEN}"}
    [run] = fake_databricks.runs.values()
    polls = fake_databricks.calls("GET", "/api/2.2/jobs/runs/get")
    assert [p.query for p in polls] == [{"run_id": str(run.run_id)}] * 3  # PENDING, RUNNING, TERMINATED

    metadata = result.asset_materializations_for_node("processed__stripe")[0].metadata
    assert metadata["databricks/job_id"].value == STRIPE_JOB_ID
    assert metadata["databricks/run_id"].value == run.run_id
    assert metadata["databricks/run_url"].value == fake_databricks.run_page_url(run)
    assert metadata["duration_seconds"].value == 42.0  # the run's run_duration (42 000 ms)
    assert metadata["s3_path"].value == "s3://biz-datalake-dev/airbyte/stripe"


def test_failed_run_names_the_job_variable_and_the_run_page(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    fake_databricks.lifecycle = [failed("AnalysisException: Path does not exist: s3://biz-datalake-dev/x")]
    result = _materialize(prod_settings(DATABRICKS_HOST=fake_databricks.host))

    assert not result.success
    [run] = fake_databricks.runs.values()
    text = failure_text(result)
    assert f"job {STRIPE_JOB_ID} (DATABRICKS_STRIPE_JOB_ID) ended FAILED" in text
    assert "AnalysisException: Path does not exist" in text
    assert fake_databricks.run_page_url(run) in text


def test_internal_error_names_the_run_page(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    fake_databricks.lifecycle = [RUNNING, RunState("INTERNAL_ERROR", None, "Cluster terminated unexpectedly")]
    result = _materialize(prod_settings(DATABRICKS_HOST=fake_databricks.host))

    text = failure_text(result)
    [run] = fake_databricks.runs.values()
    assert "Cluster terminated unexpectedly" in text
    assert "(DATABRICKS_STRIPE_JOB_ID)" in text and fake_databricks.run_page_url(run) in text


def test_a_rejected_token_names_host_and_token_variables(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    settings = prod_settings(DATABRICKS_HOST=fake_databricks.host, DATABRICKS_TOKEN="dapi-revoked-token")
    text = failure_text(_materialize(settings))

    assert "rejected the token (401)" in text
    assert f"DATABRICKS_HOST={fake_databricks.host}" in text and "DATABRICKS_TOKEN" in text
    assert "dapi-revoked-token" not in text  # the secret never lands in the error
    assert len(fake_databricks.calls("POST", "/api/2.2/jobs/run-now")) == 1  # 401 is not retried


def test_permission_denied_names_host_and_token_variables(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    fake_databricks.reject_with = 403
    text = failure_text(_materialize(prod_settings(DATABRICKS_HOST=fake_databricks.host)))

    assert "denied access (403)" in text
    assert f"DATABRICKS_HOST={fake_databricks.host}" in text and "DATABRICKS_TOKEN" in text


def test_an_unknown_job_names_the_job_variable(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    settings = prod_settings(DATABRICKS_HOST=fake_databricks.host, DATABRICKS_STRIPE_JOB_ID="999")
    text = failure_text(_materialize(settings))

    assert "Job 999 does not exist" in text and "DATABRICKS_STRIPE_JOB_ID" in text
    assert not fake_databricks.runs


@pytest.mark.timeout(120)  # a ceiling: without the 1 s retry budget the SDK would retry for 300 s
def test_an_unreachable_host_is_a_clear_error(prod_settings: ProdSettings) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings = prod_settings(DATABRICKS_HOST=host)
    transform = DatabricksRunNowTransform(
        host=host,
        token=dg.EnvVar("DATABRICKS_TOKEN"),
        job_id=STRIPE_JOB_ID,
        request_retry_timeout_seconds=1,  # prod keeps the SDK's 300 s of retries
    )
    text = failure_text(_materialize(settings, transform))

    assert f"Cannot reach Databricks at DATABRICKS_HOST={host}" in text
    assert "running job 4242 (DATABRICKS_STRIPE_JOB_ID)" in text


class _InterruptedWhileRunning:
    """A stand-in context whose log is where Dagster's interruption surfaces mid-wait."""

    def __init__(self) -> None:
        self.log = self
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)
        if ": RUNNING" in message:
            raise dg.DagsterExecutionInterruptedError()


def test_terminating_the_dagster_run_cancels_the_databricks_run(fake_databricks: FakeDatabricks) -> None:
    fake_databricks.lifecycle = [RUNNING, SUCCESS]
    transform = DatabricksRunNowTransform(host=fake_databricks.host, token=TOKEN, job_id=STRIPE_JOB_ID)
    context = _InterruptedWhileRunning()

    with pytest.raises(dg.DagsterExecutionInterruptedError):
        transform.run(context, "s3://lake/airbyte/stripe", "s3://lake/processed/stripe")  # type: ignore[arg-type]

    [run] = fake_databricks.runs.values()
    [cancel] = fake_databricks.calls("POST", "/api/2.2/jobs/runs/cancel")
    assert cancel.body == {"run_id": run.run_id}
    assert context.lines[-1] == f"Cancelling Databricks run {run.run_id}"
