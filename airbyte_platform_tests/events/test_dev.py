"""`make dev` (airbyte_platform.dev): the real receiver and metrics exporter beside a stand-in for
`dagster dev`, on loopback.

The supervisor runs in its own process, as `make dev` runs it, so the signals are real: Ctrl-C
(SIGINT) or SIGTERM stops every child, and any child exiting stops the others. `dagster dev`
itself is replaced by a small script that records the signals it gets. The real topology (PostgreSQL,
`dagster dev`, the receiver) is started and stopped by airbyte_platform_tests/topology/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import free_port

STAND_IN = textwrap.dedent(
    """
    import os, pathlib, signal, sys, time
    log = pathlib.Path(sys.argv[1])
    def stop(signum, frame):
        with log.open("a") as f:
            f.write(signal.Signals(signum).name + "\\n")
        sys.exit(0)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.write_text(f"pid {os.getpid()}\\n")
    while True:
        time.sleep(0.1)
    """
)

DRIVER = textwrap.dedent(
    """
    import sys
    from airbyte_platform.dev import Child, _healthy, metrics_exporter, supervise
    from airbyte_platform.settings import get_settings
    port, stand_in, log = sys.argv[1], sys.argv[2], sys.argv[3]
    exporter, metrics_url = metrics_exporter(get_settings())  # as make dev starts it
    children = [
        Child("webhook receiver", [sys.executable, "-m", "airbyte_platform.events.receiver", "--port", port,
                                   "--no-access-log", "--log-level", "warning"]),
        Child("dagster dev", [sys.executable, stand_in, log]),
        exporter,
    ]
    checks = (_healthy(f"http://127.0.0.1:{port}/health"), _healthy(metrics_url))
    sys.exit(supervise(children, ready=lambda: all(check() for check in checks),
                       ready_message=f"READY {metrics_url}", stop_timeout=15))
    """
)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class DevSession:
    def __init__(self, tmp_path: Path, inbox_dsn: str):
        self.port, metrics_port = free_port(), free_port()
        self.log = tmp_path / "stand_in.log"
        stand_in, driver = tmp_path / "stand_in.py", tmp_path / "driver.py"
        stand_in.write_text(STAND_IN)
        driver.write_text(DRIVER)
        env = {
            **os.environ,
            "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),  # the exporter reads the instance there
            "METRICS_PORT": str(metrics_port),
            "WEBHOOK_INBOX_DSN": inbox_dsn,  # as make dev exports it (no local server per test)
        }
        env.pop("AIRBYTE_PLATFORM_MODE", None)
        env.pop("METRICS_HOST", None)  # the default: loopback
        (tmp_path / "dagster_home").mkdir()
        self.process = subprocess.Popen(
            [sys.executable, str(driver), str(self.port), str(stand_in), str(self.log)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        # The supervisor prints READY once the receiver answers /health and the exporter /metrics.
        line = self.process.stdout.readline().strip()
        assert line.startswith("READY "), self.process.stderr.read() if self.process.stderr else ""
        self.metrics_url = line.removeprefix("READY ")
        assert self.metrics_url == f"http://127.0.0.1:{metrics_port}/metrics"
        assert self.receiver_up() and self.exporter_up()

    def receiver_up(self) -> bool:
        return _answers(f"http://127.0.0.1:{self.port}/health")

    def exporter_up(self) -> bool:
        """The exporter answers with its own series, read from the instance and the inbox."""
        try:
            text = requests.get(self.metrics_url, timeout=30).text
        except requests.RequestException:
            return False
        up = {
            sample.labels["source"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "airbyte_platform_exporter_source_up"
        }
        return up.get("runs") == 1.0 and up.get("inbox") == 1.0

    def stand_in_pid(self) -> int:
        return int(self.log.read_text().splitlines()[0].removeprefix("pid "))

    def stand_in_signals(self) -> list[str]:
        return self.log.read_text().splitlines()[1:]

    def wait(self) -> tuple[int, str]:
        code = self.process.wait(30)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


@pytest.fixture
def session(tmp_path: Path, pg_inbox_dsn: str):
    running = DevSession(tmp_path, pg_inbox_dsn)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait(10)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_both_children_cleanly(session, stop_signal):
    session.process.send_signal(stop_signal)
    code, stderr = session.wait()
    assert code == 0, stderr
    assert f"stopping ({stop_signal.name} received)" in stderr
    assert "Traceback" not in stderr, stderr  # the receiver and the exporter stop quietly too
    assert session.stand_in_signals() == ["SIGINT"]  # interrupted exactly once, gracefully
    assert not session.receiver_up()  # the receiver released its port
    assert not _answers(session.metrics_url)  # and so did the exporter


def test_when_dagster_dev_exits_the_receiver_is_stopped_too(session):
    os.kill(session.stand_in_pid(), signal.SIGKILL)  # the UI crashes
    code, stderr = session.wait()
    assert code != 0 and "dagster dev exited with code -9" in stderr
    deadline = time.monotonic() + 5
    while (session.receiver_up() or _answers(session.metrics_url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not session.receiver_up()
    assert not _answers(session.metrics_url)


def test_the_exporter_on_a_busy_port_says_which_variable_to_change(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": str(port),
        }
        (tmp_path / "dagster_home").mkdir()
        process = subprocess.run(
            [sys.executable, "-m", "airbyte_platform.operations.metrics"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert process.returncode == 2, process.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in process.stderr and "set METRICS_PORT" in process.stderr
    assert "Traceback" not in process.stderr
