"""The production topology in miniature, on loopback: a gRPC code server, the Dagster webserver and
the daemon (queued run coordinator) sharing a temporary DAGSTER_HOME, and the Airflow REST API facade
started by its own command, configured only through the environment.

Every process runs in its own session and is stopped with its whole group when the context exits,
so a failing test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests

from airbyte_platform.events.local_inbox import local_inbox_dsn
from airbyte_platform.local_services.postgres import stop_local_postgres_under
from airbyte_platform_tests.ports import free_port

START_TIMEOUT_SECONDS = 300.0  # a bound: the processes import the code location on 2 busy cores
STAND_IN_MODULE = "airbyte_platform_tests.airflow_compat.rest.stand_in_location"
USERNAME, PASSWORD = "airflow-caller", "facade-test-password-4d1e"


@dataclass
class Topology:
    webserver_url: str
    facade_url: str
    logs: Path

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.logs.glob("*.log"))
        )


class _Processes:
    def __init__(self, logs: Path, env: dict[str, str]):
        self.logs, self.env = logs, env
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in reversed(self.started):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _wait_until(check, what: str, processes: list[subprocess.Popen[bytes]], topology: Topology) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        for process in processes:
            assert process.poll() is None, f"{what}: a process exited early\n{topology.log_tail()}"
        try:
            if check():
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, (
            f"{what} not ready within {START_TIMEOUT_SECONDS:.0f} s\n{topology.log_tail()}"
        )
        time.sleep(0.25)


@contextlib.contextmanager
def running_topology(root: Path) -> Iterator[Topology]:
    home, dagster_home, logs = root / "home", root / "dagster_home", root / "logs"
    for folder in (home, dagster_home, logs):
        folder.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(
        textwrap.dedent(
            """
            run_coordinator:
              module: airbyte_platform.ingestion.sync_run_coordinator
              class: SyncRunCoordinator
              config:
                dequeue_interval_seconds: 1
            telemetry:
              enabled: false
            """
        )
    )
    # Create the SQLite storages (and run their migrations) once, here, before any process opens them:
    # the code server, webserver and daemon creating them at once race on alembic's version row.
    with dg.DagsterInstance.from_config(str(dagster_home)):
        pass
    grpc_port, web_port, facade_port = free_port(), free_port(), free_port()
    (root / "workspace.yaml").write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
        "      location_name: airbyte_platform\n"
    )
    # The webhook inbox the code server's sensors read, in a PostgreSQL of its own, as `make dev` has
    # it: the local fallback (a server under the home) is out of reach here, since as root pgserver
    # runs PostgreSQL as its own user, which cannot enter pytest's 0700 temporary folders.
    inbox_root = Path(tempfile.mkdtemp(prefix="airflow_rest_inbox_"))
    inbox_root.chmod(0o755)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "AIRBYTE_PLATFORM_HOME": str(home),
        "WEBHOOK_INBOX_DSN": local_inbox_dsn(inbox_root),
        "AIRFLOW_API_USERNAME": USERNAME,
        "AIRFLOW_API_PASSWORD": PASSWORD,
        "AIRFLOW_API_PORT": str(facade_port),
        "DAGSTER_WEBSERVER_URL": f"http://127.0.0.1:{web_port}",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    bin_dir = Path(sys.executable).parent
    topology = Topology(f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{facade_port}", logs)
    processes = _Processes(logs, env)
    try:
        code_server = processes.start(
            "code_server",
            [
                str(bin_dir / "dagster"),
                "code-server",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(grpc_port),
                "-m",
                STAND_IN_MODULE,
                "--location-name",
                "airbyte_platform",
            ],
        )
        webserver = processes.start(
            "webserver",
            [
                str(bin_dir / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(web_port),
                "-w",
                str(root / "workspace.yaml"),
            ],
        )
        facade = processes.start("facade", [sys.executable, "-m", "airbyte_platform.airflow_compat.rest"])
        _wait_until(
            lambda: requests.get(f"{topology.webserver_url}/server_info", timeout=2).status_code == 200,
            "webserver",
            [code_server, webserver, facade],
            topology,
        )
        # The daemon starts once the webserver has created the SQLite storages: two processes
        # creating them at once race on the schema migration.
        daemon = processes.start(
            "daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", str(root / "workspace.yaml")]
        )
        everything = [code_server, webserver, daemon, facade]
        _wait_until(
            lambda: (
                requests.get(f"{topology.facade_url}/api/v1/health", timeout=5).json()["dag_processor"][
                    "status"
                ]
                == "healthy"
            ),
            "code location through the facade",
            everything,
            topology,
        )
        yield topology
    finally:
        processes.stop_all()
        _stop_local_postgres_servers(root)
        stop_local_postgres_under(inbox_root)
        shutil.rmtree(inbox_root, ignore_errors=True)


def _stop_local_postgres_servers(root: Path) -> None:
    """Stop PostgreSQL servers that runs or sensors started under `root` (local mode starts pgserver
    on first use, e.g. the CDC stand-in source once the lag sensor is unpaused), which outlive them."""
    for pid_file in root.rglob("postmaster.pid"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises once the server is gone
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
