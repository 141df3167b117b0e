"""Terminating a run from the API stops its sync (the connector process too) and leaves the
published lake data exactly as it was."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from .conftest import Topology

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]
LONG_SYNC = {"stripe_to_s3": {"records": 3_000_000}}


def _files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _step_started(instance: dg.DagsterInstance, run_id: str, step: str) -> bool:
    return any(
        record.step_key == step
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    )


def _connectors_running(home: Path) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if "sample_sources" in line and " read " in line]


@pytest.mark.timeout(600)
def test_terminating_a_run_stops_its_sync_and_keeps_the_published_data(topology: Topology) -> None:
    lake = topology.home / "lake" / "airbyte" / "stripe"
    state = topology.home / "state"
    if not _files(lake):  # this topology has not synced Stripe to the lake yet: publish once first
        first = topology.ui.launch("airbyte_event_driven_sync", {"connection_id": "stripe_to_s3"})
        assert topology.ui.wait([first], timeout=420)[first] == "SUCCESS", topology.log_tail()
    before = _files(lake), _files(state)
    assert before[0], "the lake holds the published Stripe streams"

    run_config = {
        "resources": {
            "airbyte": {
                "config": {
                    "connectors_dir": str(topology.home / "connectors"),
                    "source_config_overrides": LONG_SYNC,
                }
            }
        }
    }
    run_id = topology.ui.launch("stripe_datalake_pipeline", run_config)
    instance = topology.instance()
    deadline = time.monotonic() + 240
    while not _step_started(instance, run_id, "airbyte_sync_stripe_to_s3"):
        assert time.monotonic() < deadline, topology.log_tail()
        time.sleep(1.0)
    time.sleep(8.0)  # well into reading 3M records
    assert topology.ui.status(run_id) == "STARTED"
    topology.ui.terminate(run_id)
    assert topology.ui.wait([run_id], timeout=180)[run_id] == "CANCELED", topology.log_tail()

    assert (_files(lake), _files(state)) == before
    deadline = time.monotonic() + 30
    while _connectors_running(topology.home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _connectors_running(topology.home)
