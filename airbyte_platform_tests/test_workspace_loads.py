"""`dagster dev` loads the code location through workspace.yaml, exactly as the UI does."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.e2e  # loads workspace.yaml as `dagster dev` does, in a subprocess
def test_workspace_yaml_loads_the_code_location() -> None:
    dagster = Path(sys.executable).with_name("dagster")
    with tempfile.TemporaryDirectory() as dagster_home, tempfile.TemporaryDirectory() as platform_home:
        env = {
            **os.environ,
            "DAGSTER_HOME": dagster_home,
            "AIRBYTE_PLATFORM_HOME": platform_home,
            "AIRBYTE_PLATFORM_MODE": "local",
        }
        result = subprocess.run(
            [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location airbyte_platform" in output
