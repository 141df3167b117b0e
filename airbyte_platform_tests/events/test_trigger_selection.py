"""A trigger for one connection runs `airbyte_event_driven_sync` subset to that connection's assets: a
plan of one step, not one step per connection of the workspace (each skipping itself), which made the
daemon spend ~1.6 s per run request at 5,000 connections (bench/scale.py)."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from airbyte_platform.definitions import build_definitions
from airbyte_platform.events.inbox import StoredEvent
from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC
from airbyte_platform.events.sensors.triggers import _sync_ops, trigger_run_request
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.events.sensor_harness import connection_keys, trigger


@pytest.fixture(scope="module")
def local():
    settings = load_settings({})
    return settings, build_definitions(settings).get_repository_def()


def _stored(event) -> StoredEvent:
    return StoredEvent(**dataclasses.asdict(event), seq=1, position="1")


def test_a_trigger_selects_only_its_connections_assets(local):
    settings, repository = local
    ops = _sync_ops(repository)
    assert _sync_ops(repository) is ops  # found once per loaded repository
    event = _stored(trigger("one", AIRBYTE_EVENT_DRIVEN_SYNC, {"connection_id": "hubspot_to_postgres"}))
    request = trigger_run_request(event, settings, ops)
    assert isinstance(request, dg.RunRequest)
    assert set(request.asset_selection) == set(connection_keys("hubspot_to_postgres"))
    assert not request.run_config  # no per-op skipping: the others are not in the plan at all
    assert request.tags["airbyte/connection"] == "hubspot_to_postgres"

    job = repository.get_job(AIRBYTE_EVENT_DRIVEN_SYNC)
    subset = job.get_subset(asset_selection=set(request.asset_selection))

    def sync_nodes(graph: dg.GraphDefinition) -> list[str]:
        return sorted(n.name for n in graph.node_defs if n.name.startswith("airbyte_sync_"))

    assert sync_nodes(subset.graph) == ["airbyte_sync_hubspot_to_postgres"]
    assert len(sync_nodes(job.graph)) == len(ops) > 1


def test_without_the_code_locations_ops_the_run_config_selects_the_connection(local):
    settings, _ = local
    event = _stored(trigger("two", AIRBYTE_EVENT_DRIVEN_SYNC, {"connection_id": "hubspot_to_postgres"}))
    request = trigger_run_request(event, settings)
    assert isinstance(request, dg.RunRequest)
    assert request.asset_selection is None
    assert request.run_config == {"connection_id": request.tags["airbyte/connection_id"]}
