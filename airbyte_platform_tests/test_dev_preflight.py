"""`make dev`'s checks before it starts anything (local_services/dev_preflight.py); the whole path, a
second `make dev` beside a running one, is in topology/test_6_second_dev.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from airbyte_platform.local_services.dev_preflight import (
    Listener,
    PreflightError,
    check_ports_free,
    only_dev_of_home,
)
from airbyte_platform_tests.ports import free_port

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from airbyte_platform.local_services.dev_preflight import only_dev_of_home
    with only_dev_of_home(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def test_a_port_in_use_is_named_with_its_variable():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        free = free_port()
        with pytest.raises(PreflightError) as refused:
            check_ports_free(
                [
                    Listener("webhook receiver", "WEBHOOK_PORT", "127.0.0.1", busy),
                    Listener("metrics exporter", "METRICS_PORT", "127.0.0.1", free),
                ]
            )
    message = str(refused.value)
    assert f"webhook receiver: 127.0.0.1:{busy} is in use (set WEBHOOK_PORT to a free port)" in message
    assert "METRICS_PORT" not in message
    check_ports_free([Listener("metrics exporter", "METRICS_PORT", "127.0.0.1", free)])  # free: no error


def test_the_home_is_held_by_one_make_dev_at_a_time(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(PreflightError) as refused, only_dev_of_home(tmp_path):
            pass
        assert f"already running on the platform home {tmp_path} (pid {holder.pid})" in str(refused.value)
    finally:
        holder.communicate("", timeout=30)  # the holder lets go
    with only_dev_of_home(tmp_path):  # released: the next one may start
        assert (tmp_path / "make-dev.pid").exists()
    assert not (tmp_path / "make-dev.pid").exists()
