"""A signed Stripe event posted to the receiver makes the daemon's sensor launch exactly one run.

Runs first in the topology session: the DAG's rule syncs only when the last Stripe → PostgreSQL sync
is older than 6 hours, and the other tests sync it.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from airbyte_platform.events.stripe_signature import stripe_signature_header

from .conftest import STRIPE_SECRET, Topology

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]
SENSOR_WAIT = 150.0  # the sensor ticks every 30 s once the daemon has loaded the code location


def _post(topology: Topology, event_id: str) -> requests.Response:
    body = json.dumps({"id": event_id, "object": "event", "type": "charge.succeeded", "data": {"object": {}}})
    headers = {
        "Stripe-Signature": stripe_signature_header(body.encode(), STRIPE_SECRET),
        "Content-Type": "application/json",
    }
    return requests.post(f"{topology.receiver_url}/webhooks/stripe", data=body, headers=headers, timeout=10)


@pytest.mark.timeout(600)
def test_a_signed_stripe_event_launches_one_run_that_succeeds(topology: Topology) -> None:
    assert _post(topology, "evt_topology_1").status_code == 200
    assert _post(topology, "evt_topology_1").status_code == 200  # Stripe redelivers
    assert _post(topology, "evt_topology_2").status_code == 200  # a burst: one sync covers both

    deadline = time.monotonic() + SENSOR_WAIT
    runs: list[dict[str, str]] = []
    while time.monotonic() < deadline and not runs:
        runs = topology.ui.runs_tagged("airflow/dag_id", "event_driven_sync")
        time.sleep(2.0)
    assert runs, f"no run launched by the sensor within {SENSOR_WAIT:.0f} s\n{topology.log_tail()}"
    [run] = runs
    statuses = topology.ui.wait([run["runId"]], timeout=420)
    assert statuses[run["runId"]] == "SUCCESS", topology.log_tail()
    # Still exactly one: the redelivery and the second event of the burst launched nothing more.
    assert len(topology.ui.runs_tagged("airflow/dag_id", "event_driven_sync")) == 1
    tags = topology.instance().get_run_by_id(run["runId"]).tags  # type: ignore[union-attr]
    assert tags["airbyte_platform/event_source"] == "stripe"
