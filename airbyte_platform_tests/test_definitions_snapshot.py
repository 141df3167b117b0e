"""Every asset key, check, job, schedule and sensor, and the spec data behind them, pinned: a rename
or a changed dep, tag, metadata key, check spec or job selection must be a deliberate act.

Three code locations: local (embedded runner), prod with discovery off (declared connections only),
and prod against a fixture workspace on the loopback Airbyte server (declared + discovered).

Run `pytest airbyte_platform_tests/test_definitions_snapshot.py --update-snapshots` after an
intended change and commit the snapshot diff with it.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from airbyte_platform.definitions import build_definitions
from airbyte_platform.ingestion.sync_ops import CONNECTION_ID_TAG
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.airbyte_server.conftest import PASSWORD, USERNAME, build_state
from airbyte_platform_tests.airbyte_server.fake_airbyte import FakeAirbyteServer
from airbyte_platform_tests.definitions_inventory import inventory
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _settings(mode: str, home: Path):
    if mode == "local":
        return load_settings({"AIRBYTE_PLATFORM_HOME": str(home)})
    return load_settings(
        {**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(home), "AIRBYTE_DISCOVERY": "off"}
    )


def _fixture_workspace_inventory(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRBYTE_API_USERNAME", USERNAME)  # read through EnvVar, as in a deployment
    monkeypatch.setenv("AIRBYTE_API_PASSWORD", PASSWORD)
    server = FakeAirbyteServer(build_state(), username=USERNAME, password=PASSWORD).start()
    try:
        settings = load_settings(
            {**PROD_PLACEHOLDERS, "AIRBYTE_PLATFORM_HOME": str(home), "AIRBYTE_API_URL": server.url}
        )
        with dg.instance_for_test():  # the workspace state lives in the instance's defs-state storage
            return inventory(build_definitions(settings))
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["local", "prod", "prod_workspace"])
def test_definitions_match_snapshot(mode, tmp_path, request, monkeypatch):
    if mode == "prod_workspace":
        text = _fixture_workspace_inventory(tmp_path, monkeypatch)
    else:
        text = inventory(build_definitions(_settings(mode, tmp_path)))
    path = SNAPSHOTS / f"definitions_{mode}.txt"
    if request.config.getoption("--update-snapshots") or not path.exists():
        path.write_text(text)
        if not request.config.getoption("--update-snapshots"):
            pytest.fail(f"{path.name} did not exist and was written: review and commit it")
    assert text == path.read_text(), (
        f"definitions changed: rerun with --update-snapshots if intended ({path})"
    )


def _declared_spec_data(defs) -> dict:
    graph = defs.resolve_asset_graph()
    specs = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if "airbyte/connection" not in node.tags:
            continue  # declared streams only (discovered ones exist in prod alone)
        op = node.assets_def.node_def
        specs[key] = (
            node.group_name, node.kinds, node.owners, node.description, node.tags, sorted(node.metadata),
            op.name, {k: v for k, v in op.tags.items() if k != CONNECTION_ID_TAG}, op.pool,
            sorted((c.name, c.blocking) for c in node.assets_def.check_specs if c.asset_key == key),
        )  # fmt: skip
    return specs


def test_declared_streams_have_the_same_specs_in_both_modes(tmp_path):
    """One factory builds the sync assets in both modes: same specs, op tags, pool and checks. Only
    the connection id differs (the connection's name locally, its Airbyte id in prod)."""
    local = _declared_spec_data(build_definitions(_settings("local", tmp_path)))
    prod = _declared_spec_data(build_definitions(_settings("prod", tmp_path)))
    assert len(local) == 19
    assert local == prod
