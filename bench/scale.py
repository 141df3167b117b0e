"""Benchmark: the production-shaped topology at 5,000 Airbyte connections x 10 streams.

The processes of a deployment, on loopback: the fake Airbyte API (its own process), PostgreSQL
(pgserver) for Dagster's storage and the webhook inbox, a gRPC code server (`dagster api grpc -m
airbyte_platform.definitions`, what the chart's code server runs), the webserver, and the daemon. Measured:

- code server: time until it serves the code location, cold (no workspace state stored yet: fetched
  from Airbyte) and warm (from the state in the instance's defs-state storage), and its peak resident
  memory (VmHWM);
- webserver: time until it answers, and the asset-graph GraphQL query (every asset node with its
  dependencies, as the UI's graph asks) time, median of 3;
- run worker: a run launched through GraphQL (`launchRun`, as the UI's Materialize) of one connection's
  assets; the run process loads the code location from the state the code server recorded (no Airbyte
  call) — RUN_STARTING to RUN_START is what a run pod pays per run before its first step;
- sensor: 10,000 trigger events in the PostgreSQL inbox, the daemon ticking
  `airbyte_event_driven_sync_webhook_sensor` against the code server; duration of each tick and runs
  requested (the run queue is closed, max_concurrent_runs 0, so no run starts).

Targets (the deployment issue): code server ready <= 15 s and <= 2 GB, per-run worker start <= 5 s,
sensor tick <= 10 s. Merges `scale` into bench/results.json (not with --quick).

    .venv/bin/python bench/scale.py [--connections 5000] [--streams 10] [--backlog 10000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests
from results_file import merge_results

BENCH_DIR = Path(__file__).resolve().parent
LOCATION = "airbyte_platform"
SENSOR = "airbyte_event_driven_sync_webhook_sensor"
GRPC_MAX_BYTES = 1_000_000_000  # the deployment's DAGSTER_GRPC_MAX_RX_BYTES / _SEND_BYTES
TARGETS = {
    "code_server_ready_s": 15.0,
    "code_server_peak_gb": 2.0,
    "run_worker_start_s": 5.0,
    "sensor_tick_s": 10.0,
}
ASSET_GRAPH_QUERY = """
query AssetGraph {
  assetNodes {
    id
    assetKey { path }
    groupName
    opNames
    jobNames
    isPartitioned
    isObservable
    isMaterializable
    dependencyKeys { path }
    dependedByKeys { path }
  }
}
"""
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


# ---- processes ---------------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
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
    return log.read_text()[-3000:] if log.exists() else ""


def wait_for_code_server(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
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


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
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


def start_code_server(env: dict[str, str], logs: Path, name: str, stack: ExitStack) -> dict[str, Any]:
    port = free_port()
    log = logs / f"{name}.log"
    started = time.perf_counter()
    proc = stack.enter_context(
        process(
            [
                str(Path(sys.executable).with_name("dagster")),
                "api",
                "grpc",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-m",
                "airbyte_platform.definitions",
                "--location-name",
                LOCATION,
            ],
            env,
            log,
        )
    )
    wait_for_code_server(port, proc, log, timeout=900)
    ready = time.perf_counter() - started
    return {"port": port, "pid": proc.pid, "ready_s": round(ready, 2), "peak_rss_gb": peak_rss_gb(proc.pid)}


# ---- the instance -----------------------------------------------------------------------------------
def write_instance(home: Path, postgres_url: str, max_concurrent_runs: int) -> None:
    """A production-shaped instance: PostgreSQL storage, the queued run coordinator, the deployment's
    pools and run limits (`concurrency`, as the Helm values render them)."""
    home.mkdir(parents=True, exist_ok=True)
    # psycopg2 named explicitly: SQLAlchemy 2.1 (the lock's) maps postgresql:// to psycopg 3, whose
    # `with connection:` closes the connection, and dagster-postgres 0.29's webserver pool runs
    # `with conn:` on every new connection (set_pg_statement_timeout): every launchRun then fails
    # with "the connection is closed".
    postgres_url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    config: dict[str, Any] = {
        "storage": {"postgres": {"postgres_url": postgres_url}},
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"},
        "concurrency": {
            "pools": {"default_limit": 1, "granularity": "op"},
            "runs": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": [{"key": "airbyte/sync", "value": "true", "limit": 4}],
            },
        },
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(json.dumps(config))  # JSON is YAML


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


# ---- measurements -----------------------------------------------------------------------------------
def asset_graph(url: str) -> tuple[dict[str, Any], list[list[str]]]:
    times, nodes = [], []
    for _ in range(3):
        started = time.perf_counter()
        nodes = graphql(url, ASSET_GRAPH_QUERY)["assetNodes"]
        times.append(time.perf_counter() - started)
    return (
        {
            "asset_nodes": len(nodes),
            "query_s_median": round(statistics.median(times), 2),
            "query_s": [round(t, 2) for t in times],
        },
        [node["assetKey"]["path"] for node in nodes],
    )


def one_connection_assets(keys: list[list[str]]) -> list[list[str]]:
    """The streams of one discovered connection (asset keys <destination>/<connection>/<stream>)."""
    by_connection: dict[tuple[str, ...], list[list[str]]] = {}
    for key in keys:
        if len(key) == 3:
            by_connection.setdefault(tuple(key[:2]), []).append(key)
    return max(by_connection.values(), key=len)


def run_worker_starts(url: str, dagster_home: Path, assets: list[list[str]], runs: int) -> dict[str, Any]:
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRunStatus

    instance = DagsterInstance.from_config(str(dagster_home))
    measured = []
    for _ in range(runs):
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": key} for key in assets],
                "assetCheckSelection": [],
            },
            "mode": "default",
            "runConfigData": {},
        }
        launched_at = time.time()
        result = graphql(url, LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun: {result}")
        run_id = result["run"]["runId"]
        deadline = time.monotonic() + 300
        run = instance.get_run_by_id(run_id)
        while run is not None and not run.is_finished and time.monotonic() < deadline:
            time.sleep(0.5)
            run = instance.get_run_by_id(run_id)
        stamps: dict[str, float] = {}
        for record in instance.all_logs(run_id):
            kind = record.dagster_event.event_type if record.dagster_event else None
            for event_type in (
                DagsterEventType.RUN_STARTING,
                DagsterEventType.RUN_START,
                DagsterEventType.STEP_START,
            ):
                if kind == event_type and event_type.value not in stamps:
                    stamps[event_type.value] = record.timestamp
        starting, start = stamps.get("PIPELINE_STARTING"), stamps.get("PIPELINE_START")
        step = stamps.get("STEP_START")
        measured.append(
            {
                "status": run.status.value if run else "missing",
                "worker_start_s": round(start - starting, 2) if start and starting else None,
                "launch_to_first_step_s": round(step - launched_at, 2) if step else None,
                "succeeded": bool(run and run.status == DagsterRunStatus.SUCCESS),
            }
        )
    starts = [m["worker_start_s"] for m in measured if m["worker_start_s"] is not None]
    return {
        "runs": measured,
        "worker_start_s_median": round(statistics.median(starts), 2) if starts else None,
    }


def fill_inbox(dsn: str, events: int, connection_ids: list[str]) -> float:
    from airbyte_platform.events.inbox import NewEvent, open_inbox

    started = time.perf_counter()
    batch = 1000
    with open_inbox(dsn) as inbox:
        for first in range(0, events, batch):
            inbox.insert_batch(
                [
                    NewEvent(
                        event_id=f"trigger-bench-{uuid.uuid4().hex}",
                        source="trigger",
                        route="airbyte_event_driven_sync",
                        kind="airbyte_event_driven_sync",
                        payload=json.dumps(
                            {
                                "job": "airbyte_event_driven_sync",
                                "run_config": {"connection_id": connection_ids[i % len(connection_ids)]},
                            }
                        ),
                        received_at=time.time(),
                    )
                    for i in range(first, min(first + batch, events))
                ]
            )
    return time.perf_counter() - started


def import_seconds(env: dict[str, str], module: str) -> float:
    """Wall time of importing `module` in a fresh interpreter (what every run process pays first)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900, check=True
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 2)


def sensor_ticks(daemon_home: Path, ticks: int, timeout: float, since: float) -> dict[str, Any]:
    from dagster import DagsterInstance
    from dagster._core.scheduler.instigation import TickStatus
    from dagster._core.storage.dagster_run import RunsFilter

    instance = DagsterInstance.from_config(str(daemon_home))
    deadline = time.monotonic() + timeout
    done: list[Any] = []
    found: list[Any] = []
    states: list[Any] = []
    while time.monotonic() < deadline:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == SENSOR]
        if states:
            found = instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=50)
            done = sorted(
                (
                    t
                    for t in found
                    if t.status != TickStatus.STARTED and t.end_timestamp and t.timestamp >= since
                ),
                key=lambda t: t.timestamp,
            )
            if len(done) >= ticks:
                break
        time.sleep(1)
    in_progress = (
        [t for t in found if t.status == TickStatus.STARTED and t.timestamp >= since] if states else []
    )
    return {
        "unfinished_tick": (
            {
                "running_s": round(time.time() - in_progress[0].timestamp, 1),
                # a tick records its run ids only when it ends: count the runs the sensor created so far
                "runs_created_so_far": instance.get_runs_count(
                    RunsFilter(tags={"dagster/sensor_name": SENSOR})
                ),
            }
            if in_progress and len(done) < ticks
            else None
        ),
        "ticks": [
            {
                "status": t.status.value,
                "duration_s": round(t.end_timestamp - t.timestamp, 2),
                "runs_requested": len(t.run_ids),
                "error": (t.error.message[:300] if t.error else None),
                "skip_reason": (t.skip_reason or "")[:300] or None,
            }
            for t in done[:ticks]
        ],
        "timed_out": len(done) < ticks,
    }


# ---- the benchmark ----------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--sensor-ticks", type=int, default=1)
    parser.add_argument(
        "--quick", action="store_true", help="200 connections, 1,000 events; results.json untouched"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs) for a look")
    args, _ = parser.parse_known_args()  # bench/run_all.py passes its own arguments to every benchmark
    if args.quick:
        args.connections, args.backlog, args.sensor_ticks, args.runs = min(args.connections, 200), 1000, 1, 1

    sys.path.insert(0, str(BENCH_DIR.parent))
    from airbyte_platform.local_services.postgres import local_postgres, local_postgres_uri
    from airbyte_platform_tests.airbyte_server.fake_airbyte.process import (
        PASSWORD,
        USERNAME,
        FakeAirbyteProcess,
    )
    from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

    load_before = os.getloadavg()
    bench_started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    root.chmod(0o755)  # pgserver runs PostgreSQL as its own user when we are root
    logs = root / "logs"
    logs.mkdir()
    figures: dict[str, Any] = {}
    pg_folder = root / "pg"
    try:
        with ExitStack() as stack:
            print(f"fake Airbyte: {args.connections} connections x {args.streams} streams...", flush=True)
            airbyte = stack.enter_context(FakeAirbyteProcess(args.connections, args.streams))
            dagster_url = local_postgres_uri(pg_folder, "dagster")
            inbox_dsn = local_postgres_uri(pg_folder, "inbox")
            # Same storage; the sensor phase's daemon has a closed run queue, so its 10,000 requested
            # runs are created and queued but none starts.
            dagster_home, daemon_home = root / "dagster_home", root / "daemon_home"
            write_instance(dagster_home, dagster_url, max_concurrent_runs=10)
            write_instance(daemon_home, dagster_url, max_concurrent_runs=0)
            env = {
                **os.environ,
                **PROD_PLACEHOLDERS,
                "AIRBYTE_API_URL": airbyte.url,
                "AIRBYTE_API_USERNAME": USERNAME,
                "AIRBYTE_API_PASSWORD": PASSWORD,
                "AIRBYTE_PLATFORM_HOME": str(root / "airbyte_platform_home"),
                "WEBHOOK_INBOX_DSN": inbox_dsn,
                "DAGSTER_HOME": str(dagster_home),
                "PYTHONWARNINGS": "ignore",
                # Measured: at 5,000 x 10 the code location's gRPC snapshot exceeds the 100 MB default and the
                # webserver fails with RESOURCE_EXHAUSTED; the Helm values raise it the same way.
                "DAGSTER_GRPC_MAX_RX_BYTES": str(GRPC_MAX_BYTES),
                "DAGSTER_GRPC_MAX_SEND_BYTES": str(GRPC_MAX_BYTES),
            }

            print("code server, cold (fetches the workspace)...", flush=True)
            with ExitStack() as cold_stack:
                airbyte.reset_stats()
                cold = start_code_server(env, logs, "code_server_cold", cold_stack)
                cold["http_calls"] = airbyte.stats()["total"]
            print(f"  ready in {cold['ready_s']} s, peak {cold['peak_rss_gb']} GB", flush=True)
            print("code server, warm (from the stored workspace state)...", flush=True)
            airbyte.reset_stats()
            warm = start_code_server(env, logs, "code_server_warm", stack)
            warm["http_calls"] = airbyte.stats()["total"]
            print(f"  ready in {warm['ready_s']} s, peak {warm['peak_rss_gb']} GB", flush=True)

            workspace = root / "workspace.yaml"
            workspace.write_text(
                json.dumps(
                    {
                        "load_from": [
                            {
                                "grpc_server": {
                                    "host": "127.0.0.1",
                                    "port": warm["port"],
                                    "location_name": LOCATION,
                                }
                            }
                        ]
                    }
                )
            )
            web_port = free_port()
            web_url = f"http://127.0.0.1:{web_port}"
            print("webserver...", flush=True)
            started = time.perf_counter()
            web_log = logs / "webserver.log"
            web = stack.enter_context(
                process(
                    [
                        str(Path(sys.executable).with_name("dagster-webserver")),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(web_port),
                        "-w",
                        str(workspace),
                    ],
                    env,
                    web_log,
                )
            )
            wait_for_http(f"{web_url}/server_info", web, web_log, timeout=900)
            wait_for_location(web_url, timeout=900)
            webserver = {"ready_s": round(time.perf_counter() - started, 2)}
            print("asset graph over GraphQL...", flush=True)
            graph, keys = asset_graph(web_url)
            webserver["peak_rss_gb"] = peak_rss_gb(web.pid)
            print(f"  {graph['asset_nodes']} nodes in {graph['query_s_median']} s", flush=True)

            print("run workers (launchRun of one connection's streams)...", flush=True)
            assets = one_connection_assets(keys)
            with process(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(workspace)],
                env,
                logs / "daemon_runs.log",
            ):  # dequeues the launched runs
                runs = run_worker_starts(web_url, dagster_home, assets, args.runs)
            runs["assets_per_run"] = len(assets)
            # Where a run process's start goes: the interpreter and Dagster, then our code location
            # (imports and the definitions built from the stored workspace state).
            runs["fresh_process_import_s"] = {
                "dagster": import_seconds(env, "dagster"),
                "airbyte_platform.definitions": import_seconds(env, "airbyte_platform.definitions"),
            }
            print(f"  worker start {runs['worker_start_s_median']} s", flush=True)

            print(f"inbox backlog: {args.backlog} trigger events...", flush=True)
            declared = [
                PROD_PLACEHOLDERS[name]
                for name in sorted(PROD_PLACEHOLDERS)
                if name.endswith("_CONNECTION_ID")
            ]
            fill_s = fill_inbox(inbox_dsn, args.backlog, declared)
            print("daemon ticking the trigger sensor...", flush=True)
            daemon_env = {**env, "DAGSTER_HOME": str(daemon_home)}
            daemon_started = time.time()
            stack.enter_context(
                process(
                    [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(workspace)],
                    daemon_env,
                    logs / "daemon.log",
                )
            )
            sensor = sensor_ticks(
                daemon_home, args.sensor_ticks, timeout=300 + 300 * args.sensor_ticks, since=daemon_started
            )
            sensor |= {"backlog_events": args.backlog, "inbox_fill_s": round(fill_s, 2), "sensor": SENSOR}
            print(f"  ticks: {sensor['ticks']}", flush=True)
            figures = {
                "code_server_cold": {k: v for k, v in cold.items() if k not in ("port", "pid")},
                "code_server_warm": {k: v for k, v in warm.items() if k not in ("port", "pid")},
                "webserver": webserver | {"asset_graph": graph},
                "run_worker": runs,
                "sensor_tick": sensor,
            }
    finally:
        server = local_postgres(pg_folder) if pg_folder.exists() else None
        if server is not None:
            server.cleanup_mode = "stop"
            server.cleanup()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")

    ticks = [t["duration_s"] for t in figures["sensor_tick"]["ticks"]]
    worst_tick = max(ticks) if ticks else None
    cold_stats = figures["code_server_cold"]
    warm_stats = figures["code_server_warm"]
    figures["targets"] = {
        "code_server_ready_s": {"target": TARGETS["code_server_ready_s"], "warm": warm_stats["ready_s"], "cold": cold_stats["ready_s"], "met": warm_stats["ready_s"] <= TARGETS["code_server_ready_s"]},
        "code_server_peak_gb": {"target": TARGETS["code_server_peak_gb"], "measured": warm_stats["peak_rss_gb"], "met": (warm_stats["peak_rss_gb"] or 99) <= TARGETS["code_server_peak_gb"]},
        "run_worker_start_s": {"target": TARGETS["run_worker_start_s"], "measured": figures["run_worker"]["worker_start_s_median"], "met": (figures["run_worker"]["worker_start_s_median"] or 99) <= TARGETS["run_worker_start_s"]},
        "sensor_tick_s": {"target": TARGETS["sensor_tick_s"], "measured_worst": worst_tick, "met": worst_tick is not None and worst_tick <= TARGETS["sensor_tick_s"]},
    }  # fmt: skip
    figures["machine"] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "command": f"python bench/scale.py --connections {args.connections} --streams {args.streams} --backlog {args.backlog}"
        + (" --quick" if args.quick else ""),
        "total_seconds": round(time.perf_counter() - bench_started),
    }
    figures["workspace"] = {"connections": args.connections, "streams_per_connection": args.streams}
    print(json.dumps(figures["targets"], indent=2))
    if not args.quick:
        merge_results("scale", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
