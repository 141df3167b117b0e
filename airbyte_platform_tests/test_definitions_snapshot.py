"""Every asset key, check, job, schedule and sensor, pinned: a rename must be a deliberate act.

Run `pytest airbyte_platform_tests/test_definitions_snapshot.py --update-snapshots` after an
intended change and commit the snapshot diff with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airbyte_platform.definitions import build_definitions
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.definitions_inventory import inventory
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _settings(mode: str, home: Path):
    if mode == "local":
        return load_settings({"AIRBYTE_PLATFORM_HOME": str(home)})
    return load_settings(
        {**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(home), "AIRBYTE_DISCOVERY": "off"}
    )


@pytest.mark.parametrize("mode", ["local", "prod"])
def test_definitions_match_snapshot(mode, tmp_path, request):
    text = inventory(build_definitions(_settings(mode, tmp_path)))
    path = SNAPSHOTS / f"definitions_{mode}.txt"
    if request.config.getoption("--update-snapshots") or not path.exists():
        path.write_text(text)
        if not request.config.getoption("--update-snapshots"):
            pytest.fail(f"{path.name} did not exist and was written: review and commit it")
    assert text == path.read_text(), (
        f"definitions changed: rerun with --update-snapshots if intended ({path})"
    )


def test_declared_streams_have_the_same_keys_and_checks_in_both_modes(tmp_path):
    local = build_definitions(_settings("local", tmp_path)).resolve_asset_graph()
    prod = build_definitions(_settings("prod", tmp_path)).resolve_asset_graph()
    local_keys = set(local.get_all_asset_keys())
    assert local_keys <= set(prod.get_all_asset_keys())
    local_checks = {k for k in local.asset_check_keys}
    assert local_checks <= set(prod.asset_check_keys)
