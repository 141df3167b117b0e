"""Benchmark: the production-shaped topology at 5,000 Airbyte connections x 10 streams.

The processes of a deployment, on loopback: the fake Airbyte API (its own process), PostgreSQL
(pgserver) for Dagster's storage and the webhook inbox, a gRPC code server (`dagster api grpc -m
airbyte_platform.definitions`, what the chart's code server runs), the webserver, and the daemon. Measured:

- code server: time until it serves the code location, cold (no workspace state stored yet: fetched
  from Airbyte) and warm (from the state in the instance's defs-state storage), and its peak resident
  memory (VmHWM);
- webserver: time until it answers, and the asset-graph GraphQL query (every asset node with its
  dependencies, as the UI's graph asks) time, median of 3;
- run worker: runs launched through GraphQL (`launchRun`, as the UI's Materialize) of one connection's
  assets, each in its own run pod: dagster-k8s's K8sRunLauncher configured from deploy/helm/values.yaml,
  its Jobs run as local processes (airbyte_platform_tests/run_pods/local_kubelet.py). RUN_STARTING to
  RUN_START is what a pod pays per run before its first step. Ours builds only the connections its run
  selects (run_scope.py); the baseline is the same run in a pod that does not know its run id and builds
  the whole workspace (the previous design); ratio = baseline / ours, medians of `--runs` each;
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
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from results_file import merge_results

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # runnable as a plain script from any directory

from airbyte_platform_tests.run_pods.deployment import (  # noqa: E402
    UNSCOPED_POD_TAGS,
    bin_path,
    daemon_sensors_config,
    graphql,
    launch_assets,
    peak_rss_gb,
    process,
    start_code_server,
    start_webserver,
    wait_for_run,
    write_instance,
    write_workspace,
)

BENCH_DIR = Path(__file__).resolve().parent
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


def between(stamps: dict[str, float], first: str | float, then: str) -> float | None:
    """Seconds from event `first` (or a time) to event `then`, when both happened."""
    begin = stamps.get(first) if isinstance(first, str) else first
    end = stamps.get(then)
    return round(end - begin, 2) if begin is not None and end is not None else None


def run_worker_starts(
    url: str, dagster_home: Path, assets: list[list[str]], runs: int, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRunStatus

    instance = DagsterInstance.from_config(str(dagster_home))
    measured = []
    for _ in range(runs):
        launched_at = time.time()
        run_id = launch_assets(url, assets, tags)
        created_at = time.time()
        run = wait_for_run(instance, run_id, timeout=300)
        stamps: dict[str, float] = {}
        for record in instance.all_logs(run_id):
            kind = record.dagster_event.event_type if record.dagster_event else None
            if kind is not None and kind.value not in stamps:
                stamps[kind.value] = record.timestamp

        measured.append(
            {
                "status": run.status.value,
                "worker_start_s": between(stamps, "PIPELINE_STARTING", "PIPELINE_START"),
                "launch_to_first_step_s": between(stamps, launched_at, "STEP_START"),
                # where the rest of a click's wait goes: the launchRun mutation (the webserver plans the
                # subset with the code server), the queue and the launcher, the run worker, its first step
                "parts_s": {
                    "launch_run_mutation": round(created_at - launched_at, 2),
                    # the queue's dequeue interval and the launcher creating the pod (Job)
                    "queue_and_launch": between(stamps, created_at, "PIPELINE_STARTING"),
                    "run_start_to_first_step": between(stamps, "PIPELINE_START", "STEP_START"),
                },
                "succeeded": run.status == DagsterRunStatus.SUCCESS,
            }
        )
    return summary(measured)


def summary(measured: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.median(present), 2) if present else None

    return {
        "runs": measured,
        "worker_start_s_median": median([m["worker_start_s"] for m in measured]),
        "run_start_to_first_step_s_median": median(
            [m["parts_s"]["run_start_to_first_step"] for m in measured]
        ),
        "launch_to_first_step_s_median": median([m["launch_to_first_step_s"] for m in measured]),
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
    parser.add_argument("--runs", type=int, default=3)
    # The first tick turns the backlog's first 500 events into runs; the next ones find those runs queued.
    parser.add_argument("--sensor-ticks", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="200 connections, 1,000 events; results.json untouched"
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs) for a look")
    args, _ = parser.parse_known_args()  # bench/run_all.py passes its own arguments to every benchmark
    if args.quick:
        args.connections, args.backlog, args.sensor_ticks, args.runs = min(args.connections, 200), 1000, 2, 1

    from airbyte_platform.local_services.postgres import local_postgres, local_postgres_uri
    from airbyte_platform_tests.airbyte_server.fake_airbyte.process import (
        PASSWORD,
        USERNAME,
        FakeAirbyteProcess,
    )
    from airbyte_platform_tests.deploy.deploy_files import helm_values
    from airbyte_platform_tests.run_pods.local_kubelet import run_launcher_config
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
            # Run pods as in the deployment: dagster-k8s's K8sRunLauncher configured from the Helm
            # values, its Jobs run as local processes (airbyte_platform_tests/run_pods/local_kubelet.py).
            launcher = run_launcher_config(helm_values("prod"), str(dagster_home), str(logs / "pods"))
            sensors = daemon_sensors_config(helm_values("prod"))
            write_instance(dagster_home, dagster_url, 10, run_launcher=launcher, sensors=sensors)
            write_instance(daemon_home, dagster_url, max_concurrent_runs=0, sensors=sensors)
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

            workspace = write_workspace(root / "workspace.yaml", warm["port"])
            print("webserver...", flush=True)
            started = time.perf_counter()
            web_url, web = start_webserver(env, workspace, logs, stack)
            webserver = {"ready_s": round(time.perf_counter() - started, 2)}
            print("asset graph over GraphQL...", flush=True)
            graph, keys = asset_graph(web_url)
            webserver["peak_rss_gb"] = peak_rss_gb(web.pid)
            print(f"  {graph['asset_nodes']} nodes in {graph['query_s_median']} s", flush=True)

            print("run workers (launchRun of one connection's streams)...", flush=True)
            assets = one_connection_assets(keys)
            with process(
                [bin_path("dagster-daemon"), "run", "-w", str(workspace)],
                env,
                logs / "daemon_runs.log",
            ):  # dequeues the launched runs
                # The first run shares the machine with the daemon's first load of the 50,000-asset
                # location: reported on its own, not in either median.
                first = run_worker_starts(web_url, dagster_home, assets, 1)["runs"][0]
                # Baseline: the same run in a pod that does not know its run (the variable the
                # Downward API sets is overridden empty): it builds all connections, as before run scopes.
                # Alternated, so that neither side gets the quieter minutes.
                ours_runs, whole_runs = [], []
                for _ in range(args.runs):
                    ours_runs += run_worker_starts(web_url, dagster_home, assets, 1)["runs"]
                    whole_runs += run_worker_starts(web_url, dagster_home, assets, 1, tags=UNSCOPED_POD_TAGS)[
                        "runs"
                    ]
            runs, whole = summary(ours_runs), summary(whole_runs)
            runs["first_run_after_daemon_start"] = first
            runs["assets_per_run"] = len(assets)
            runs["baseline_whole_workspace"] = whole
            if runs["worker_start_s_median"] and whole["worker_start_s_median"]:
                runs["ratio"] = round(whole["worker_start_s_median"] / runs["worker_start_s_median"], 2)
            # Where a run process's start goes: the interpreter and Dagster, then our code location
            # (imports and the definitions built from the stored workspace state).
            runs["fresh_process_import_s"] = {
                "dagster": import_seconds(env, "dagster"),
                "airbyte_platform.definitions": import_seconds(env, "airbyte_platform.definitions"),
            }
            for name, figures_of in (("ours", runs), ("whole workspace", whole)):
                print(
                    f"  {name}: worker start {figures_of['worker_start_s_median']} s, then first step "
                    f"{figures_of['run_start_to_first_step_s_median']} s; launch to first step "
                    f"{figures_of['launch_to_first_step_s_median']} s",
                    flush=True,
                )

            declared = [
                PROD_PLACEHOLDERS[name]
                for name in sorted(PROD_PLACEHOLDERS)
                if name.endswith("_CONNECTION_ID")
            ]
            # A running deployment: the daemon has loaded the code location and ticked once (nothing in
            # the inbox) before the burst arrives. (A daemon started onto a backlog shares its first
            # tick with its own start: loading the 50,000-asset location and its first freshness pass,
            # measured at ~12 s on 2026-12-05.)
            print("daemon, until its first (empty) tick...", flush=True)
            daemon_env = {**env, "DAGSTER_HOME": str(daemon_home)}
            daemon_started = time.time()
            stack.enter_context(
                process(
                    [bin_path("dagster-daemon"), "run", "-w", str(workspace)],
                    daemon_env,
                    logs / "daemon.log",
                )
            )
            idle = sensor_ticks(daemon_home, 1, timeout=600, since=daemon_started)
            print(f"inbox backlog: {args.backlog} trigger events...", flush=True)
            burst_at = time.time()
            fill_s = fill_inbox(inbox_dsn, args.backlog, declared)
            print("daemon ticking the trigger sensor...", flush=True)
            sensor = sensor_ticks(
                daemon_home, args.sensor_ticks, timeout=300 + 300 * args.sensor_ticks, since=burst_at
            )
            sensor |= {
                "backlog_events": args.backlog,
                "inbox_fill_s": round(fill_s, 2),
                "sensor": SENSOR,
                "first_tick_after_daemon_start": idle["ticks"],
            }
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
