"""The prod Pipes path (`DatabricksPipesTransform`) against the loopback Databricks stand-in.

The submission is checked as sent (script, cluster, Pipes bootstrap); then the full round trip runs:
the stand-in executes the uploaded stripe_transform.py on local Spark with the bootstrap parameters,
the script reads its Pipes context from DBFS and writes its messages there, and the orchestrator reads
them back through the DBFS REST API.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster._core.pipes import utils as pipes_utils
from dagster_pipes import decode_param

from airbyte_platform.ingestion.local_defs import build_destinations_resource
from airbyte_platform.settings import Settings
from airbyte_platform.transforms.databricks.assets import processed_stripe
from airbyte_platform.transforms.databricks.runners import TRANSFORM_SCRIPT, DatabricksPipesTransform
from airbyte_platform.transforms.resources import build_transform_resources
from airbyte_platform_tests.transforms.fake_databricks import RUNNING, SUCCESS, FakeDatabricks, failed
from airbyte_platform_tests.transforms.prod_support import CLUSTER_ID, ProdSettings, failure_text
from airbyte_platform_tests.transforms.stripe_rows import CHARGES, REFUNDS


@pytest.fixture
def no_message_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """For runs whose script never ran: dagster's message reader waits 10 s after the run for late
    messages that will never come; 0 keeps these tests fast (the round trip keeps the real wait)."""
    monkeypatch.setattr(pipes_utils, "WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 0)


def _pipes_settings(prod_settings: ProdSettings, fake: FakeDatabricks, **overrides: str) -> Settings:
    pipes = {"DATABRICKS_TRANSFORM_MODE": "pipes", "DATABRICKS_CLUSTER_ID": CLUSTER_ID}
    return prod_settings(**{"DATABRICKS_HOST": fake.host, **pipes, **overrides})


def _materialize(settings: Settings) -> dg.ExecuteInProcessResult:
    built = build_transform_resources(settings)["databricks_transform"]
    assert isinstance(built, DatabricksPipesTransform)
    assert built.cluster_id == settings.databricks.pipes_cluster_id  # type: ignore[union-attr]
    # As prod builds it, polling faster than prod's 5 s.
    transform = DatabricksPipesTransform(
        host=built.host, token=built.token, cluster_id=built.cluster_id, poll_interval_seconds=0.2
    )
    return dg.materialize(
        [processed_stripe],
        resources={"databricks_transform": transform, "destinations": build_destinations_resource(settings)},
        raise_on_error=False,
    )


def _submitted_task(fake: FakeDatabricks) -> dict[str, Any]:
    [submit] = fake.calls("POST", "/api/2.2/jobs/runs/submit")
    [task] = submit.body["tasks"]
    return task


def _cli_params(task: dict[str, Any]) -> dict[str, str]:
    parameters = task["spark_python_task"]["parameters"]
    return dict(zip(parameters[::2], parameters[1::2], strict=True))


@pytest.mark.usefixtures("no_message_grace")
def test_submission_carries_script_cluster_and_pipes_bootstrap(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    fake_databricks.lifecycle = [RUNNING, failed("ModuleNotFoundError: No module named 'pyspark'")]
    result = _materialize(_pipes_settings(prod_settings, fake_databricks))

    # The terminal state is honoured: FAILED fails the asset, naming the cluster variable.
    text = failure_text(result)
    assert f"on cluster {CLUSTER_ID} (DATABRICKS_CLUSTER_ID) failed" in text
    assert "No module named 'pyspark'" in text

    # The script the task points at is this repo's stripe_transform.py, uploaded before submitting.
    task = _submitted_task(fake_databricks)
    assert task["existing_cluster_id"] == CLUSTER_ID
    assert task["spark_python_task"]["python_file"] == "dbfs:/airbyte_platform/stripe_transform.py"
    assert {"pypi": {"package": "dagster-pipes"}} in task["libraries"]
    uploaded = fake_databricks.dbfs_path("/airbyte_platform/stripe_transform.py")
    assert uploaded.read_bytes() == TRANSFORM_SCRIPT.read_bytes()

    # Pipes bootstrap as task parameters (an existing cluster takes no environment variables).
    params = _cli_params(task)
    assert set(params) == {"--dagster-pipes-context", "--dagster-pipes-messages"}
    context_path = decode_param(params["--dagster-pipes-context"])["path"]
    messages_path = decode_param(params["--dagster-pipes-messages"])["path"]
    [context_put] = [r for r in fake_databricks.calls("POST", "/api/2.0/dbfs/put") if r.path]
    assert context_put.body["path"] == context_path
    context = json.loads(base64.b64decode(context_put.body["contents"]))
    assert context["extras"] == {
        "s3_path": "s3://biz-datalake-dev/airbyte/stripe",
        "output_path": "s3://biz-datalake-dev/processed/stripe",
    }
    assert context["asset_keys"] == ["processed/stripe"]
    # Both DBFS temp folders were created for the run and removed after it.
    made = {r.body["path"] for r in fake_databricks.calls("POST", "/api/2.0/dbfs/mkdirs")}
    deleted = {r.body["path"] for r in fake_databricks.calls("POST", "/api/2.0/dbfs/delete")}
    assert {str(Path(context_path).parent), messages_path} <= made & deleted
    assert not fake_databricks.dbfs_path(messages_path).exists()


@pytest.mark.usefixtures("no_message_grace")
def test_a_successful_run_that_reported_nothing_is_not_a_materialization(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    fake_databricks.lifecycle = [SUCCESS]
    text = failure_text(_materialize(_pipes_settings(prod_settings, fake_databricks)))
    assert "reported no materialization" in text


@pytest.mark.usefixtures("no_message_grace")
def test_an_unknown_cluster_names_the_cluster_variable(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings
) -> None:
    text = failure_text(
        _materialize(_pipes_settings(prod_settings, fake_databricks, DATABRICKS_CLUSTER_ID="0000-gone"))
    )
    assert "Cluster 0000-gone does not exist" in text and "DATABRICKS_CLUSTER_ID" in text
    assert not fake_databricks.calls("POST", "/api/2.2/jobs/runs/submit")


@pytest.mark.slow  # a local Spark session runs the uploaded script: ~1-2 min on 2 cores
@pytest.mark.xdist_group("spark")
def test_full_pipes_round_trip_runs_the_uploaded_script(
    fake_databricks: FakeDatabricks, prod_settings: ProdSettings, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    for stream, rows in (("charges", CHARGES), ("refunds", REFUNDS)):
        (lake / "airbyte" / "stripe" / stream).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), lake / "airbyte" / "stripe" / stream / "part-0.parquet")
    fake_databricks.execute_python_tasks = True

    result = _materialize(_pipes_settings(prod_settings, fake_databricks, DATALAKE_ROOT=str(lake)))

    [run] = fake_databricks.runs.values()
    assert result.success, failure_text(result) + "\n" + run.output
    # What the script reported through Pipes (written to DBFS, read back over the REST API).
    metadata = result.asset_materializations_for_node("processed__stripe")[0].metadata
    assert metadata["engine"].value == "databricks pipes"
    assert metadata["dagster/row_count"].value == 2
    assert metadata["rows/customer_revenue"].value == 2
    assert metadata["Databricks Job Run URL"].value == fake_databricks.run_page_url(run)
    # And what it wrote, computed from the inputs above: net of refunds, failed charges excluded.
    daily = pq.read_table(lake / "processed" / "stripe" / "daily_revenue").to_pylist()
    succeeded = [c for c in CHARGES if c["status"] == "succeeded"]
    refunded = {r["charge"]: r["amount"] for r in REFUNDS}
    assert sorted((r["currency"], r["net_amount"]) for r in daily) == sorted(
        (c["currency"].lower(), c["amount"] - refunded.get(c["id"], 0)) for c in succeeded
    )
