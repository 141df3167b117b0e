"""Runs in Kubernetes-shaped run pods, launched as the UI launches them.

The deployment's processes on loopback (deployment.py): code server, webserver, daemon, PostgreSQL
storage, and dagster-k8s's K8sRunLauncher configured from deploy/helm/values.yaml, whose Jobs run as
local processes. A run pod learns its run id from its own label through the Downward API entry of the
Helm values and builds only the discovered connections its run selects; without it (the baseline), it
builds the whole workspace. Both runs must sync the same assets.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from airbyte_platform.local_services.postgres import local_postgres_uri, stop_local_postgres
from airbyte_platform_tests.airbyte_server.fake_airbyte.process import PASSWORD, USERNAME, FakeAirbyteProcess
from airbyte_platform_tests.deploy.deploy_files import helm_values
from airbyte_platform_tests.run_pods.deployment import (
    UNSCOPED_POD_TAGS,
    bin_path,
    graphql,
    launch_assets,
    process,
    start_code_server,
    start_webserver,
    wait_for_run,
    write_instance,
    write_workspace,
)
from airbyte_platform_tests.run_pods.local_kubelet import run_launcher_config
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("run_pods")]

CONNECTIONS, STREAMS = 40, 3
SCOPE_MESSAGE = "Airbyte connections discovered in the workspace"


@dataclass
class Deployment:
    url: str
    instance: dg.DagsterInstance
    pods: Path
    connections: dict[str, list[list[str]]]  # discovered connection key part -> its assets' key paths


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="run_pods_"))
    root.chmod(0o755)  # pgserver runs PostgreSQL as its own user when we are root
    logs, pods, home = root / "logs", root / "logs" / "pods", root / "dagster_home"
    logs.mkdir()
    try:
        with ExitStack() as stack:
            airbyte = stack.enter_context(FakeAirbyteProcess(CONNECTIONS, STREAMS, job_seconds=0.5))
            launcher = run_launcher_config(helm_values("prod"), str(home), str(pods))
            write_instance(home, local_postgres_uri(root / "pg", "dagster"), 4, run_launcher=launcher)
            env = {
                **os.environ,
                **PROD_PLACEHOLDERS,
                "AIRBYTE_API_URL": airbyte.url,
                "AIRBYTE_API_USERNAME": USERNAME,
                "AIRBYTE_API_PASSWORD": PASSWORD,
                "AIRBYTE_PLATFORM_HOME": str(root / "home"),
                "WEBHOOK_INBOX_DSN": local_postgres_uri(root / "pg", "inbox"),
                "DAGSTER_HOME": str(home),
                "PYTHONWARNINGS": "ignore",
            }
            code_server = start_code_server(env, logs, "code_server", stack, timeout=240)
            workspace = write_workspace(root / "workspace.yaml", code_server["port"])
            url, _ = start_webserver(env, workspace, logs, stack)
            stack.enter_context(
                process([bin_path("dagster-daemon"), "run", "-w", str(workspace)], env, logs / "daemon.log")
            )
            instance = stack.enter_context(dg.DagsterInstance.from_config(str(home)))
            connections: dict[str, list[list[str]]] = {}
            for key in discovered_keys(url):  # what the UI's asset graph lists
                if len(key) == 3 and key[0] == "airbyte":
                    connections.setdefault(key[1], []).append(key)
            yield Deployment(url, instance, pods, connections)
    finally:
        stop_local_postgres(root / "pg")


def discovered_keys(url: str) -> list[list[str]]:
    nodes = graphql(url, "query { assetNodes { assetKey { path } } }")["assetNodes"]
    return [node["assetKey"]["path"] for node in nodes]


def scope_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id) if SCOPE_MESSAGE in (e.message or "")]


def materialized(instance: dg.DagsterInstance, run_id: str) -> set[tuple[str, ...]]:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return {
        tuple(e.dagster_event.asset_key.path) for e in events if e.dagster_event and e.dagster_event.asset_key
    }


def test_a_run_pod_builds_only_the_connection_its_run_syncs(deployment: Deployment) -> None:
    assert len(deployment.connections) == CONNECTIONS
    _, keys = sorted(deployment.connections.items())[3]
    run_id = launch_assets(deployment.url, keys)

    run = wait_for_run(deployment.instance, run_id, timeout=240)

    assert run.status == dg.DagsterRunStatus.SUCCESS, (
        deployment.pods / f"dagster-run-{run_id}.log"
    ).read_text()
    assert materialized(deployment.instance, run_id) == {tuple(k) for k in keys}
    pod = json.loads((deployment.pods / f"dagster-run-{run_id}.json").read_text())
    assert pod["labels"]["dagster/run-id"] == run_id
    assert pod["env"]["AIRBYTE_PLATFORM_RUN_ID"] == run_id  # the Downward API entry of values.yaml
    said = scope_messages(deployment.instance, run_id)
    assert said, "the run pod did not narrow its definitions"
    assert all(f"built the assets of 1 of the {CONNECTIONS} Airbyte connections" in m for m in said)


def test_a_pod_that_does_not_know_its_run_builds_everything_and_syncs_the_same(
    deployment: Deployment,
) -> None:
    _, keys = sorted(deployment.connections.items())[5]
    run_id = launch_assets(deployment.url, keys, tags=UNSCOPED_POD_TAGS)

    run = wait_for_run(deployment.instance, run_id, timeout=240)

    assert run.status == dg.DagsterRunStatus.SUCCESS, (
        deployment.pods / f"dagster-run-{run_id}.log"
    ).read_text()
    assert materialized(deployment.instance, run_id) == {tuple(k) for k in keys}
    assert scope_messages(deployment.instance, run_id) == []
