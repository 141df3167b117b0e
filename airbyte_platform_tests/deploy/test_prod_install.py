"""The production install leaves out local mode's stand-ins, and the production code runs without them.

deploy/Dockerfile installs the project's runtime dependencies only; pgserver and fakesnow are the
`local` extra. Without a container engine the image cannot be built here, so the second test
does what the image would: it loads the prod code location, the receiver and the metrics exporter in
a process where importing any of those packages fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

PROJECT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = ("pgserver", "fakesnow")


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~! ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_runtime_dependencies_leave_out_the_local_stand_ins() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    assert runtime.isdisjoint(LOCAL_ONLY)
    assert set(LOCAL_ONLY) <= _names(project["optional-dependencies"]["local"])
    dockerfile = (PROJECT / "deploy" / "Dockerfile").read_text()
    assert "-r pyproject.toml -c requirements.lock" in dockerfile and "[local]" not in dockerfile


BLOCKED_IMPORTS = f"""
import importlib.abc, sys

class _NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {LOCAL_ONLY!r}:
            raise ImportError(f"{{name}} is not installed in the production image")
        return None

sys.meta_path.insert(0, _NotInTheImage())

from airbyte_platform.definitions import defs
graph = defs.resolve_asset_graph()
defs.get_repository_def().get_all_jobs()
import airbyte_platform.events.receiver.app
import airbyte_platform.operations.metrics.__main__
import airbyte_platform.airflow_compat.rest.app
print(len(list(graph.get_all_asset_keys())), "assets")
print(sorted(m for m in sys.modules if m.split(".")[0] in {LOCAL_ONLY!r}))
"""


def test_the_prod_code_location_loads_without_the_local_only_packages(tmp_path: Path) -> None:
    env = {
        **os.environ,
        **PROD_PLACEHOLDERS,
        "AIRBYTE_PLATFORM_HOME": str(tmp_path),
        "AIRBYTE_DISCOVERY": "off",
    }
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORTS], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count, imported = result.stdout.strip().splitlines()[-2:]
    assert int(count.split()[0]) >= 24 and imported == "[]"
