"""`make dev`: the production topology in miniature, until Ctrl-C.

- PostgreSQL (pgserver, under the platform home): Dagster's run, event and schedule storage, the
  webhook inbox and the analytics database (local_services/instance.py writes $DAGSTER_HOME/dagster.yaml);
- `dagster dev`: the webserver (the UI), the daemon (sensors, schedules, the run queue) and a gRPC
  code server, as separate processes; each run in a process of its own;
- the webhook receiver;
- the Prometheus exporter (`python -m airbyte_platform.operations.metrics`, METRICS_HOST/METRICS_PORT),
  reading the same instance and inbox, as its own Deployment does in prod.

Before anything starts, it checks that no other `make dev` runs on the same home and that its ports are
free (local_services/dev_preflight.py): a second one stops there, leaving the first untouched.
When any child exits the others are stopped too, so no orphan receiver keeps the port and no UI
runs without its receiver; then every local PostgreSQL under the home is stopped (the storage,
and the servers that runs started, such as the CDC stand-in). Settings errors are one message, no
traceback.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only this supervisor,
which then interrupts each child exactly once: a second SIGINT makes `dagster dev` cut its own
graceful shutdown short and can leave its webserver or daemon behind. A child that does not stop
in time is killed with its whole process group (dagster dev's webserver and daemon included).
On Linux the children also get SIGTERM if this process dies without cleaning up (SIGKILL).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import requests

from airbyte_platform.events.webhook_secrets import local_development_values
from airbyte_platform.local_services.dev_preflight import (
    Listener,
    PreflightError,
    check_ports_free,
    only_dev_of_home,
)
from airbyte_platform.local_services.instance import dagster_home_from, prepare_local_instance
from airbyte_platform.local_services.postgres import stop_local_postgres_under
from airbyte_platform.settings import PROJECT_ROOT, Settings, SettingsError, get_settings

STOP_TIMEOUT_SECONDS = 20.0
READY_TIMEOUT_SECONDS = 60.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Child:
    name: str
    command: Sequence[str]


class _Stop(Exception):
    """Raised in the main loop by SIGINT/SIGTERM/SIGHUP: stop everything."""


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the supervisor dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(child: Child, cwd: Path, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(child.command),
        cwd=cwd,
        env=env,
        start_new_session=True,  # our Ctrl-C is not theirs: they get exactly one SIGINT, from us
        preexec_fn=_die_with_parent,  # runs between fork and exec; this process has no other threads
    )


def _sweep_group(name: str, pgid: int, grace: float = 10.0) -> None:
    """Stop what is left in a child's process group after the child itself ended: `dagster dev`'s run
    processes outlive it (they would go on syncing, and restart PostgreSQL after we stop it)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return  # nothing left
    print(f"stopping what {name} left running", file=sys.stderr, flush=True)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _stop_all(processes: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for name, process in processes.items():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {timeout:.0f} s: killing it", file=sys.stderr, flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its group: grandchildren too
            process.wait()
    for name, process in processes.items():
        _sweep_group(name, process.pid)  # start_new_session: the child's pid is its group's id


def supervise(
    children: Sequence[Child],
    *,
    cwd: Path = PROJECT_ROOT,
    ready: Callable[[], bool] | None = None,
    ready_message: str = "",
    stop_timeout: float = STOP_TIMEOUT_SECONDS,
    env: dict[str, str] | None = None,
) -> int:
    """Run `children` until one exits or we are told to stop; then stop the rest. Returns an exit code.

    `ready`: polled until true (or READY_TIMEOUT_SECONDS) before `ready_message` is printed.
    """

    def request_stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {
        sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    reason, code = "", 0
    try:
        for child in children:
            processes[child.name] = _start(child, cwd, env)
        announced, warned = ready is None, False
        started = last_probe = time.monotonic()
        while True:
            exited = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
            if exited:
                name, returncode = exited[0]
                reason, code = f"{name} exited with code {returncode}", returncode or 1
                break
            if not announced and ready is not None and time.monotonic() - last_probe >= 1.0:
                last_probe = time.monotonic()
                if ready():
                    announced = True
                    if ready_message:
                        print(ready_message, flush=True)
                elif not warned and time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    # A loaded machine: keep waiting, and still say where to go once it is up.
                    print(f"not ready after {READY_TIMEOUT_SECONDS:.0f} s; still starting…", file=sys.stderr)
                    warned = True
            time.sleep(0.2)
    except _Stop as stop:
        reason = f"{stop} received"
    finally:
        # Ignore further signals while stopping: a second Ctrl-C must not abandon the children.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if processes:
            print(
                f"stopping ({reason or 'start failed'}): {', '.join(processes)}", file=sys.stderr, flush=True
            )
        _stop_all(processes, stop_timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _healthy(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    return check


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def metrics_exporter(settings: Settings) -> tuple[Child, str]:
    """The exporter's child process and its /metrics URL (it reads DAGSTER_HOME and the inbox settings)."""
    metrics = settings.metrics
    child = Child("metrics exporter", [sys.executable, "-m", "airbyte_platform.operations.metrics"])
    return child, f"http://{_loopback(metrics.host)}:{metrics.port}/metrics"


def listeners(settings: Settings) -> list[Listener]:
    """The ports `make dev`'s children listen on, with the variables that move them."""
    webhooks, ui, metrics, api = settings.webhooks, settings.instance, settings.metrics, settings.airflow_api
    assert webhooks is not None
    found = [
        Listener("webhook receiver", "WEBHOOK_PORT", webhooks.host, webhooks.port),
        Listener("Dagster UI", "DAGSTER_WEBSERVER_PORT", ui.webserver_host, ui.webserver_port),
        Listener("metrics exporter", "METRICS_PORT", metrics.host, metrics.port),
    ]
    if _airflow_api_enabled(settings):
        assert api is not None
        found.append(Listener("Airflow REST API", "AIRFLOW_API_PORT", api.host, api.port))
    return found


def _airflow_api_enabled(settings: Settings) -> bool:
    api = settings.airflow_api
    return api is not None and bool(api.username_var and api.password_var)


def main() -> int:
    try:
        settings = get_settings()
        with only_dev_of_home(settings.home):
            check_ports_free(listeners(settings))
            return _run(settings)
    except (SettingsError, PreflightError) as error:
        print(f"make dev: {error}", file=sys.stderr, flush=True)
        return 2


def _run(settings: Settings) -> int:
    webhooks, ui = settings.webhooks, settings.instance
    assert webhooks is not None
    print("Starting PostgreSQL (Dagster storage, webhook inbox, analytics)…", flush=True)
    instance = prepare_local_instance(settings, dagster_home_from())
    env = {**os.environ, **instance.child_environment()}
    # Launching a run asks the code server to start the run's process; on a loaded 2-core machine
    # that took longer than Dagster's 60 s gRPC default and the queue dropped the run as failed.
    env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "180")
    children = [
        Child("webhook receiver", [sys.executable, "-m", "airbyte_platform.events.receiver"]),
        Child(
            "dagster dev",
            [
                *(sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")),
                *("--host", ui.webserver_host, "--port", str(ui.webserver_port), "--log-level", "warning"),
            ],
        ),
    ]
    exporter, metrics_url = metrics_exporter(settings)
    children.append(exporter)
    receiver_url = f"http://{_loopback(webhooks.host)}:{webhooks.port}"
    ui_url = f"http://{_loopback(ui.webserver_host)}:{ui.webserver_port}"
    api, api_line = settings.airflow_api, ""
    if api is not None and _airflow_api_enabled(settings):
        # Airflow's REST API for existing callers, launching through this webserver.
        children.append(
            Child("airflow REST API", [sys.executable, "-m", "airbyte_platform.airflow_compat.rest"])
        )
        env.setdefault("DAGSTER_WEBSERVER_URL", ui_url)
        api_line = f"Airflow REST API  http://{_loopback(api.host)}:{api.port}/api/v1\n"
    healthy = (_healthy(f"{receiver_url}/health"), _healthy(f"{ui_url}/server_info"), _healthy(metrics_url))
    development = local_development_values(settings)
    secrets_line = (
        "webhook secrets   development values (README, Events): "
        + ", ".join(f"{name}={value}" for name, value in development.items())
        + "\n"
        if development
        else ""
    )
    try:
        return supervise(
            children,
            ready=lambda: all(check() for check in healthy),
            ready_message=(
                f"\nDagster UI        {ui_url}\n"
                f"webhook receiver  {receiver_url}  (POST /webhooks/stripe, /webhooks/airbyte/<token>, "
                "/webhooks/trigger)\n"
                f"{secrets_line}"
                f"metrics           {metrics_url}  (Prometheus exporter)\n"
                f"{api_line}"
                f"instance          {instance.dagster_home}/dagster.yaml (PostgreSQL storage, queued runs)\n"
                "Ctrl-C stops everything."
            ),
            env=env,
        )
    finally:
        stopped = stop_local_postgres_under(settings.home)
        if stopped:
            print(f"stopped {len(stopped)} local PostgreSQL server(s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
