"""Dagster's own project tooling works on the project: `dg check defs` validates it and `dg list defs`
lists what the code location serves (the same Definitions that `dagster dev` and workspace.yaml load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airbyte_platform.definitions import build_definitions
from airbyte_platform.settings import load_settings

PROJECT = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).with_name("dg")


def _dg(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    # A fresh Dagster home: `make` exports DAGSTER_HOME=.local/dagster_home, whose dagster.yaml (written by
    # make dev/demo) points at a PostgreSQL that is only running while they are.
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRBYTE_PLATFORM_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    env.pop("AIRBYTE_PLATFORM_MODE", None)  # the local default, as on a developer's machine
    return subprocess.run([str(DG), *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # dg resolves the project and loads the definitions in a subprocess (~30-80 s)
def test_dg_check_defs_passes(tmp_path):
    result = _dg("check", "defs", home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


@pytest.mark.slow
def test_dg_list_defs_lists_what_the_code_location_serves(tmp_path):
    result = _dg("list", "defs", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)

    defs = build_definitions(load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)}))
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    assert {a["asset_key"] for a in listed["assets"]} == {
        key.to_user_string() for key in graph.get_all_asset_keys()
    }
    assert len(listed["asset_checks"]) == len(graph.asset_check_keys)
    assert {j["name"] for j in listed["jobs"]} == {
        job.name for job in repository.get_all_jobs() if not job.name.startswith("__")
    }
    assert {s["name"] for s in listed["schedules"]} == {s.name for s in repository.schedule_defs}
    assert {s["name"] for s in listed["sensors"]} == {s.name for s in repository.sensor_defs}
    charges = next(a for a in listed["assets"] if a["asset_key"] == "lake/stripe/charges")
    assert charges["group_name"] == "stripe" and "airbyte" in charges["kinds"]
