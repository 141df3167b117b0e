"""`python -m airbyte_platform.dev` (make dev) in a temporary folder, for tests and benchmarks.

PostgreSQL storage and inbox, `dagster dev` (webserver, daemon, gRPC code server, a process per
run), the webhook receiver, the metrics exporter. Callers talk to it only over HTTP (GraphQL, webhooks) and read the
Dagster instance it writes; on exit it gets Ctrl-C (SIGINT) like a user's terminal would send, and
no PostgreSQL may be left running under its folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests

from airbyte_platform.local_services.postgres import PID_FILE, postmaster_pid
from airbyte_platform.settings import PROJECT_ROOT
from airbyte_platform_tests.ports import free_port
from airbyte_platform_tests.topology.graphql import DagsterUi

STRIPE_SECRET = "whsec_topology_tests"
TRIGGER_TOKEN = "trigger-token-topology"
AIRBYTE_TOKEN = "airbyte-token-topology"
READY_TIMEOUT = 240.0
ARTIFACTS = PROJECT_ROOT / ".local" / "test-artifacts" / "topology"  # ignored by git (.local/)


@dataclass
class Topology:
    root: Path
    home: Path
    dagster_home: Path
    ui: DagsterUi
    receiver_url: str
    metrics_url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]  # what make dev runs with: a second one started with it shares its home and ports

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def running_postgres(self) -> list[Path]:
        return [p.parent for p in self.root.rglob(PID_FILE) if postmaster_pid(p.parent) is not None]


def _ready(topology: Topology) -> bool:
    try:
        if requests.get(f"{topology.receiver_url}/health", timeout=2).status_code != 200:
            return False
        return len(topology.ui.asset_keys()) > 0  # the code server has loaded the code location
    except (requests.RequestException, AssertionError, KeyError):
        return False


@contextmanager
def running_topology(extra_env: dict[str, str] | None = None) -> Iterator[Topology]:
    root = Path(tempfile.mkdtemp(prefix="topology-"))
    root.chmod(0o755)  # pgserver runs PostgreSQL as its own user when the tests run as root
    ui_port, receiver_port, metrics_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "AIRBYTE_PLATFORM_HOME": str(root / "home"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DAGSTER_WEBSERVER_PORT": str(ui_port),
        "WEBHOOK_PORT": str(receiver_port),
        "METRICS_PORT": str(metrics_port),
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        "WEBHOOK_TRIGGER_TOKEN": TRIGGER_TOKEN,
        "AIRBYTE_WEBHOOK_TOKEN": AIRBYTE_TOKEN,
        "SPARK_LOCAL_IP": "127.0.0.1",
        # Two cores, and the rest of the suite runs beside: two runs at a time (the queue holds the rest).
        "DAGSTER_MAX_CONCURRENT_RUNS": "2",
        **(extra_env or {}),
    }
    env.pop("WEBHOOK_INBOX_DSN", None)
    log = root / "dev.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "airbyte_platform.dev"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    topology = Topology(
        root=root,
        home=root / "home",
        dagster_home=root / "dagster_home",
        ui=DagsterUi(f"http://127.0.0.1:{ui_port}"),
        receiver_url=f"http://127.0.0.1:{receiver_port}",
        metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
        process=process,
        log=log,
        env=env,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(topology):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make dev's topology did not come up:\n{topology.log_tail()}")
            time.sleep(1.0)
        yield topology
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C, as in a terminal
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        left = topology.running_postgres()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / "dev.log")  # what make dev printed, for a failed run's reader
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"PostgreSQL still running after make dev stopped: {left}"
