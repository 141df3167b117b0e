"""`make demo` as a user runs it: a fresh process, a fresh home and instance; one line per step, the
summary table, no event-log noise, and no PostgreSQL left running when it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from airbyte_platform.local_services.postgres import PID_FILE, postmaster_pid
from airbyte_platform.settings import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("spark")]


@pytest.mark.timeout(600)
def test_make_demo_prints_progress_and_summary_and_stops_its_servers() -> None:
    root = Path(tempfile.mkdtemp(prefix="demo-"))
    root.chmod(0o755)  # pgserver runs PostgreSQL as its own user when the tests run as root
    env = {
        **os.environ,
        "AIRBYTE_PLATFORM_HOME": str(root / "home"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "airbyte_platform.demo"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    assert "stripe_datalake_pipeline succeeded" in output
    step_lines = [line for line in output.splitlines() if line.lstrip().startswith("[") and " ok " in line]
    for step in ("airbyte_sync_stripe_to_s3", "gx_suites_stripe_to_s3", "processed__stripe"):
        assert any(step in line for line in step_lines), output
    [checks] = [line for line in output.splitlines() if line.startswith("checks: ")]
    passed, total = checks.removeprefix("checks: ").removesuffix(" passed").split("/")
    assert passed == total and int(total) >= 15, checks
    assert " - DEBUG - " not in output + done.stderr  # the event log stays in the instance
    running = [p.parent for p in root.rglob(PID_FILE) if postmaster_pid(p.parent) is not None]
    assert running == []
    # The run is in the instance `make dev` reads: PostgreSQL storage.
    config = yaml.safe_load((root / "dagster_home" / "dagster.yaml").read_text())
    assert "postgres" in config["storage"]
    subprocess.Popen(["rm", "-rf", str(root)], start_new_session=True)
