"""The processes of the Kubernetes deployment, on loopback: what bench/scale.py measures and the run-pod
tests exercise.

A gRPC code server (`dagster api grpc -m airbyte_platform.definitions`, the chart's user deployment),
the webserver and the daemon, sharing a PostgreSQL-backed instance with the queued run coordinator,
the deployment's run limits, and dagster-k8s's K8sRunLauncher whose Jobs run as local processes
(local_kubelet.py). Callers talk to it over GraphQL, as the UI does, and read the instance.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import requests

from airbyte_platform.ingestion.sync_run_coordinator import CLASS as SYNC_RUN_COORDINATOR_CLASS
from airbyte_platform.ingestion.sync_run_coordinator import MODULE as SYNC_RUN_COORDINATOR_MODULE
from airbyte_platform_tests.ports import free_port

LOCATION = "airbyte_platform"
ASSET_JOB = "__ASSET_JOB"
K8S_CONFIG_TAG = "dagster-k8s/config"
# Run tags that give the run pod an empty AIRBYTE_PLATFORM_RUN_ID: the pod builds the whole workspace, as
# every pod did before run scopes (the baseline the run-pod test and bench/scale.py compare with).
UNSCOPED_POD_TAGS = {
    K8S_CONFIG_TAG: json.dumps(
        {"container_config": {"env": [{"name": "AIRBYTE_PLATFORM_RUN_ID", "value": ""}]}}
    )
}
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def bin_path(name: str) -> str:
    """A console script of this virtualenv (the image's PATH puts its virtualenv first)."""
    return str(Path(sys.executable).with_name(name))


def peak_rss_gb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM), read before it ends."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024**2, 3)
    except OSError:
        return None
    return None


@contextmanager
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def wait_for_code_server(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"code server exited ({proc.returncode}):\n{tail(log)}")
        try:
            client.ping("ready?")
        except Exception:
            time.sleep(0.1)
            continue
        listed = client.list_repositories()
        if "SerializableErrorInfo" in type(listed).__name__:
            raise RuntimeError(f"code server failed to load: {listed}")
        return
    raise RuntimeError(f"code server not ready after {timeout} s:\n{tail(log)}")


def wait_for_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({proc.returncode}):\n{tail(log)}")
        try:
            if requests.get(url, timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not answering after {timeout} s:\n{tail(log)}")


def start_code_server(
    env: dict[str, str], logs: Path, name: str, stack: ExitStack, timeout: float = 900
) -> dict[str, Any]:
    """`dagster api grpc` as the chart's user deployment runs it; ready when it lists the repository."""
    port = free_port()
    log = logs / f"{name}.log"
    started = time.perf_counter()
    argv = [bin_path("dagster"), "api", "grpc", "-h", "127.0.0.1", "-p", str(port)]
    argv += ["-m", "airbyte_platform.definitions", "--location-name", LOCATION]
    proc = stack.enter_context(process(argv, env, log))
    wait_for_code_server(port, proc, log, timeout=timeout)
    ready = time.perf_counter() - started
    return {"port": port, "pid": proc.pid, "ready_s": round(ready, 2), "peak_rss_gb": peak_rss_gb(proc.pid)}


def daemon_sensors_config(values: dict[str, Any]) -> dict[str, Any]:
    """The instance's `sensors:` section the Dagster chart renders from `dagsterDaemon.sensors`."""
    sensors = values["dagsterDaemon"]["sensors"]
    config: dict[str, Any] = {"use_threads": sensors["useThreads"], "num_workers": sensors["numWorkers"]}
    if "numSubmitWorkers" in sensors:
        config["num_submit_workers"] = sensors["numSubmitWorkers"]
    return config


def write_instance(
    home: Path,
    postgres_url: str,
    max_concurrent_runs: int,
    run_launcher: dict[str, Any] | None = None,
    sensors: dict[str, Any] | None = None,
) -> None:
    """A production-shaped instance: PostgreSQL storage, the deployment's run coordinator, the deployment's
    pools and run limits (`concurrency`, as the Helm values render them), the run launcher, and the
    daemon's sensor threads."""
    home.mkdir(parents=True, exist_ok=True)
    # psycopg2 named explicitly: SQLAlchemy 2.1 (the lock's) maps postgresql:// to psycopg 3, whose
    # `with connection:` closes the connection, and dagster-postgres 0.29's webserver pool runs
    # `with conn:` on every new connection (set_pg_statement_timeout): every launchRun then fails
    # with "the connection is closed".
    postgres_url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    config: dict[str, Any] = {
        "storage": {"postgres": {"postgres_url": postgres_url}},
        "run_coordinator": {"module": SYNC_RUN_COORDINATOR_MODULE, "class": SYNC_RUN_COORDINATOR_CLASS},
        "concurrency": {
            "pools": {"default_limit": 1, "granularity": "op"},
            "runs": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": [{"key": "airbyte/sync", "value": "true", "limit": 4}],
            },
        },
        "telemetry": {"enabled": False},
        **({"run_launcher": run_launcher} if run_launcher else {}),
        **({"sensors": sensors} if sensors else {}),
    }
    (home / "dagster.yaml").write_text(json.dumps(config))  # JSON is YAML


def write_workspace(path: Path, code_server_port: int) -> Path:
    location = {"host": "127.0.0.1", "port": code_server_port, "location_name": LOCATION}
    path.write_text(json.dumps({"load_from": [{"grpc_server": location}]}))
    return path


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.post(
        f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=600
    )
    if not response.ok:
        raise RuntimeError(f"GraphQL answered {response.status_code}: {response.text[:3000]}")
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors'][:3]}")
    return body["data"]


def wait_for_location(url: str, timeout: float) -> None:
    """The webserver answers before it has loaded the code location: wait until it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workspace = graphql(url, WORKSPACE_QUERY)["workspaceOrError"]
        entries = [e for e in workspace.get("locationEntries", []) if e["name"] == LOCATION]
        if entries and entries[0]["loadStatus"] == "LOADED":
            loaded = entries[0]["locationOrLoadError"] or {}
            if loaded.get("__typename") == "PythonError":
                raise RuntimeError(f"the webserver could not load {LOCATION}: {loaded['message'][:2000]}")
            return
        time.sleep(0.5)
    raise RuntimeError(f"the webserver did not load {LOCATION} in {timeout} s")


def start_webserver(
    env: dict[str, str], workspace: Path, logs: Path, stack: ExitStack
) -> tuple[str, subprocess.Popen[bytes]]:
    """The webserver, once it has loaded the code location: its URL and process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = logs / "webserver.log"
    argv = [bin_path("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)]
    web = stack.enter_context(process(argv, env, log))
    wait_for_http(f"{url}/server_info", web, log, timeout=900)
    wait_for_location(url, timeout=900)
    return url, web


def launch_assets(url: str, keys: list[list[str]], tags: dict[str, str] | None = None) -> str:
    """What the UI's Materialize sends for a selection of assets; the new run's id."""
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "jobName": ASSET_JOB,
            "assetSelection": [{"path": key} for key in keys],
            "assetCheckSelection": [],
        },
        "mode": "default",
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
    }
    result = graphql(url, LAUNCH_RUN, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launchRun: {result}")
    return result["run"]["runId"]


def wait_for_run(instance: dg.DagsterInstance, run_id: str, timeout: float) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    run = instance.get_run_by_id(run_id)
    while run is not None and not run.is_finished and time.monotonic() < deadline:
        time.sleep(0.5)
        run = instance.get_run_by_id(run_id)
    if run is None or not run.is_finished:
        raise TimeoutError(f"run {run_id} not finished after {timeout} s: {run.status if run else 'missing'}")
    return run
