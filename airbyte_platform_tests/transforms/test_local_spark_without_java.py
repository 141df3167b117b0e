"""Without a JVM, the local Spark transform fails with what to install, not JAVA_GATEWAY_EXITED."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import dagster as dg
    from airbyte_platform.transforms.databricks.runners import LocalSparkTransform

    try:
        LocalSparkTransform().run(dg.build_asset_context(), "/nonexistent/in", "/nonexistent/out")
    except dg.Failure as failure:
        print("FAILURE:", failure.description)
    """
)


def test_missing_java_names_what_to_install(tmp_path: Path) -> None:
    # A fresh interpreter: a Spark session already running in this worker would hide the failure.
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME")}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv only: no java
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert "FAILURE:" in result.stdout, result.stdout + result.stderr
    assert "no `java` on PATH" in result.stdout
    assert "JAVA_HOME" in result.stdout
