"""The workspace state on S3 with the instance config of deploy/helm/values.yaml (Dagster's
UPathDefsStateStorage + s3fs), against moto's S3 server on loopback: a refresh stores a version, the code
server loads it, and a run worker with its own instance (another pod) rebuilds the version it was pinned to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.definitions.repository_definition import RepositoryLoadData
from moto.server import ThreadedMotoServer

from airbyte_platform.ingestion.airbyte_server.defs import build_prod_ingestion_defs
from airbyte_platform.ingestion.airbyte_server.workspace_state import AirbyteWorkspaceState, state_key

VALUES = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "values.yaml"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The bucket of values.yaml's base_path, on a loopback S3 (the AWS SDK's own variables, as IRSA's)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    storage = yaml.safe_load(VALUES.read_text())["additionalInstanceConfig"]["defs_state_storage"]
    bucket = storage["config"]["base_path"].removeprefix("s3://").split("/")[0]
    boto3.client("s3").create_bucket(Bucket=bucket)
    try:
        yield bucket
    finally:
        server.stop()


def _pod_instance(folder: Path) -> dg.DagsterInstance:
    """A pod's instance: its own local storage, plus the chart's additionalInstanceConfig."""
    folder.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(VALUES.read_text())["additionalInstanceConfig"]
    (folder / "dagster.yaml").write_text(yaml.safe_dump({**config, "telemetry": {"enabled": False}}))
    return dg.DagsterInstance.from_config(str(folder))


def test_the_state_travels_through_s3_from_the_code_server_to_a_run_pod(
    s3, prod_settings, airbyte_server, tmp_path
):
    code_server = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)
    with _pod_instance(tmp_path / "code_server") as instance:
        assert type(instance.defs_state_storage).__name__ == "UPathDefsStateStorage"
        with DefinitionsLoadContext.scoped(code_server):
            defs = build_prod_ingestion_defs(prod_settings)  # nothing stored yet: fetched and stored
        pinned = code_server.accessed_defs_state_info
        key = state_key(prod_settings.airbyte)
        version = pinned.get_version(key)
        objects = boto3.client("s3").list_objects_v2(Bucket=s3)["Contents"]
        assert any(item["Key"].endswith(f"/{version}") for item in objects)
        # the version pointer is in run storage: the run pod reads the pinned version, not the pointer
        latest = AirbyteWorkspaceState(prod_settings).latest()
        assert latest is not None and len(latest.connections) > 0

    airbyte_server.stop()
    run_pod = DefinitionsLoadContext(
        load_type=DefinitionsLoadType.RECONSTRUCTION,
        repository_load_data=RepositoryLoadData(defs_state_info=pinned),
    )
    with _pod_instance(tmp_path / "run_pod"), DefinitionsLoadContext.scoped(run_pod):
        rebuilt = build_prod_ingestion_defs(prod_settings)
    assert {k for a in rebuilt.assets for k in a.keys} == {k for a in defs.assets for k in a.keys}
