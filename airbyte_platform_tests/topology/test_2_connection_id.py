"""`airbyte_event_driven_sync` with the DAG's conf `{"connection_id": ...}` in the launchpad syncs
that connection only; an unknown connection is refused at launch with the known ones listed; a
Materialize of a connection's streams in the asset graph counts as a sync in the run queue."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG

from .conftest import Topology
from .graphql import LaunchError

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("topology")]


def _materialized(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return {
        r.dagster_event.asset_key.to_user_string()
        for r in records
        if r.dagster_event and r.dagster_event.asset_key
    }


@pytest.mark.timeout(600)
def test_connection_id_in_the_launchpad_syncs_only_that_connection(topology: Topology) -> None:
    run_id = topology.ui.launch("airbyte_event_driven_sync", {"connection_id": "hubspot_to_postgres"})
    assert topology.ui.wait([run_id], timeout=420)[run_id] == "SUCCESS", topology.log_tail()
    hubspot = connection_named("hubspot_to_postgres")
    expected = {hubspot.asset_key(stream).to_user_string() for stream in hubspot.streams}
    assert _materialized(topology.instance(), run_id) == expected


def test_an_unknown_connection_is_refused_at_launch(topology: Topology) -> None:
    with pytest.raises(LaunchError) as refused:
        topology.ui.launch("airbyte_event_driven_sync", {"connection_id": "no-such-connection"})
    message = str(refused.value)
    assert "RunConfigValidationInvalid" in message and "no-such-connection" in message


@pytest.mark.timeout(600)
def test_a_materialize_in_the_asset_graph_is_queued_as_a_sync_and_syncs(topology: Topology) -> None:
    """The implicit asset job has no tags: the run coordinator tags the run `airbyte/sync`, so the run
    queue's limit on concurrent syncs (Airbyte worker protection) counts it."""
    hubspot = connection_named("hubspot_to_postgres")
    keys = [hubspot.asset_key(stream) for stream in hubspot.streams]
    run_id = topology.ui.materialize(keys)
    assert topology.ui.run_tags(run_id).get(SYNC_RUN_TAG) == "true"
    assert topology.ui.wait([run_id], timeout=420)[run_id] == "SUCCESS", topology.log_tail()
    assert _materialized(topology.instance(), run_id) == {key.to_user_string() for key in keys}
