"""`dg utils refresh-defs-state`, Dagster's own command, refreshes the Airbyte workspace state that
`airbyte_platform/defs/airbyte_workspace/defs.yaml` declares, into the instance's defs-state storage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from airbyte_platform.definitions import build_definitions
from airbyte_platform.ingestion.airbyte_server.workspace_state import state_key

PROJECT = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).with_name("dg")


def test_dg_refresh_defs_state_stores_the_workspace_the_code_location_loads(
    prod_env, prod_settings, airbyte_server, dagster_instance
):
    # dagster_instance exported DAGSTER_HOME: dg stores into this instance's defs-state storage.
    env = {**os.environ, **prod_env}
    result = subprocess.run(
        [str(DG), "utils", "refresh-defs-state"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert airbyte_server.total_requests > 0
    assert dagster_instance.defs_state_storage.get_latest_version(state_key(prod_settings.airbyte))

    airbyte_server.reset_counts()
    airbyte_server.stop()  # the code location loads from the stored state alone
    graph = build_definitions(prod_settings).resolve_asset_graph()
    assert any(key.path[0] == "airbyte" for key in graph.get_all_asset_keys())
    assert airbyte_server.total_requests == 0
