"""Local mode's `processed/stripe`: stripe_transform.py as a Pipes subprocess on real local Spark.

The script is the one prod submits to Databricks and reports through the same `open_dagster_pipes`
session; here dagster's `PipesSubprocessClient` runs it and reads its messages from temp files.
Failures carry the script's stderr, and a missing JVM says what to install.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airbyte_platform.core.destinations import DestinationsResource
from airbyte_platform.settings import load_settings
from airbyte_platform.transforms.databricks.assets import processed_stripe
from airbyte_platform.transforms.databricks.local_pipes import LocalPipesTransform
from airbyte_platform.transforms.resources import build_transform_resources
from airbyte_platform_tests.transforms.prod_support import failure_text
from airbyte_platform_tests.transforms.stripe_rows import CHARGES, REFUNDS


def _lake(root: Path, charges: list[dict], refunds: list[dict]) -> Path:
    """The embedded runner's layout: one folder per stream with its manifest."""
    for stream, rows in (("charges", charges), ("refunds", refunds)):
        folder = root / "airbyte" / "stripe" / stream
        folder.mkdir(parents=True)
        files = ["part-1.parquet"] if rows else []
        if rows:
            pq.write_table(pa.Table.from_pylist(rows), folder / files[0])
        manifest = {"files": files, "primary_key": ["id"], "cursor_field": "created"}
        (folder / "_manifest.json").write_text(json.dumps(manifest))
    return root


def _materialize(
    lake: Path, transform: LocalPipesTransform, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    destinations = DestinationsResource(lake_root=str(lake), home=str(lake))
    return dg.materialize(
        [processed_stripe],
        resources={"databricks_transform": transform, "destinations": destinations},
        instance=instance,
        raise_on_error=False,
    )


def _local_transform(tmp_path: Path) -> LocalPipesTransform:
    """What local mode binds, as local mode builds it."""
    transform = build_transform_resources(load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")}))[
        "databricks_transform"
    ]
    assert isinstance(transform, LocalPipesTransform)
    return transform


@pytest.mark.xdist_group("spark")
def test_local_mode_materializes_what_the_script_reports_through_pipes(tmp_path: Path) -> None:
    lake = _lake(tmp_path / "lake", CHARGES, REFUNDS)

    instance = dg.DagsterInstance.ephemeral()

    result = _materialize(lake, _local_transform(tmp_path), instance)

    assert result.success, failure_text(result)
    # The script opened Pipes in its own process and reported the materialization from there.
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("[pipes] external process successfully opened dagster pipes" in m for m in messages)
    metadata = result.asset_materializations_for_node("processed__stripe")[0].metadata
    # The keys local Spark reported before Pipes, unchanged.
    assert set(metadata) == {
        "s3_path",
        "output_path",
        "engine",
        "dagster/row_count",
        "rows/daily_revenue",
        "rows/customer_revenue",
        "duration_seconds",
    }
    assert metadata["engine"].value == "local spark"
    assert metadata["s3_path"].value == f"{lake}/airbyte/stripe"
    # Computed from the inputs: failed charges excluded, revenue net of refunds, one row per day
    # and currency, and one per customer and currency.
    succeeded = [c for c in CHARGES if c["status"] == "succeeded"]
    refunded = {r["charge"]: r["amount"] for r in REFUNDS if r["status"] != "failed"}
    days = {(c["created"] // 86_400, c["currency"].lower()) for c in succeeded}
    customers = {(c["customer"], c["currency"].lower()) for c in succeeded}
    assert metadata["dagster/row_count"].value == len(days)
    assert metadata["rows/daily_revenue"].value == len(days)
    assert metadata["rows/customer_revenue"].value == len(customers)
    daily = pq.read_table(lake / "processed" / "stripe" / "daily_revenue").to_pylist()
    assert sorted((r["currency"], r["net_amount"]) for r in daily) == sorted(
        (c["currency"].lower(), c["amount"] - refunded.get(c["id"], 0)) for c in succeeded
    )


def test_without_java_the_failure_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The subprocess inherits this environment: the venv's bin only on PATH, no JAVA_HOME.
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    for name in ("JAVA_HOME", "SPARK_HOME"):
        monkeypatch.delenv(name, raising=False)
    lake = _lake(tmp_path / "lake", CHARGES, REFUNDS)

    result = _materialize(lake, LocalPipesTransform())

    text = failure_text(result)
    assert "could not start its JVM: no `java` on PATH" in text
    assert "Install a JDK 17 or 21" in text and "JAVA_HOME" in text
    # The subprocess's own words, from its stderr: pyspark's error class.
    assert "stripe_transform.py's stderr:" in text
    assert "JAVA_GATEWAY_EXITED" in text.split("stripe_transform.py's stderr:", 1)[1]
    assert not (lake / "processed").exists()


@pytest.mark.slow  # a second cold start of local Spark (~20 s on a quiet 2-core machine)
@pytest.mark.xdist_group("spark")
def test_a_broken_input_fails_with_the_scripts_message(tmp_path: Path) -> None:
    # Refunds were never synced: the manifest lists no files, and the script says so on stderr.
    lake = _lake(tmp_path / "lake", CHARGES, [])

    result = _materialize(lake, LocalPipesTransform())

    text = failure_text(result)
    assert "stripe_transform.py on local Spark failed" in text
    assert "refunds: the manifest lists no files (was the stream ever synced?)" in text
    assert "Install a JDK" not in text  # not mistaken for a missing java
    assert not (lake / "processed").exists()
