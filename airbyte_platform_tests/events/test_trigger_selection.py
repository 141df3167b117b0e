"""A trigger for one connection runs `airbyte_event_driven_sync` subset to that connection's assets (a
plan of one sync step, not one per connection of the workspace, each skipping itself), and the triggers
of a connection that arrive before its run starts are answered by that one run: a burst of 10,000
triggers for a few connections queued 10,000 runs, ~1.5 s of the daemon's time each (bench/scale.py)."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from airbyte_platform.definitions import build_definitions
from airbyte_platform.events.inbox import StoredEvent
from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC
from airbyte_platform.events.sensors.triggers import (
    COALESCED_TAG,
    _sync_ops,
    coalesce_by_connection,
    trigger_run_request,
)
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.events.sensor_harness import connection_keys, start_run_of, trigger


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
    assert len(sync_nodes(job.graph)) == len({op.op_name for op in ops.values()}) > 1


def test_without_the_code_locations_ops_the_run_config_selects_the_connection(local):
    settings, _ = local
    event = _stored(trigger("two", AIRBYTE_EVENT_DRIVEN_SYNC, {"connection_id": "hubspot_to_postgres"}))
    request = trigger_run_request(event, settings)
    assert isinstance(request, dg.RunRequest)
    assert request.asset_selection is None
    assert request.run_config == {"connection_id": request.tags["airbyte/connection_id"]}


def _requests(settings, ops, *connections: str) -> list[dg.RunRequest]:
    requests = []
    for i, connection in enumerate(connections):
        event = _stored(trigger(f"t{i}", AIRBYTE_EVENT_DRIVEN_SYNC, {"connection_id": connection}))
        requests.append(trigger_run_request(event, settings, ops))
    return requests


def test_a_burst_of_triggers_makes_one_run_per_connection(local):
    settings, repository = local
    burst = _requests(settings, _sync_ops(repository), *["stripe_to_s3"] * 50, "hubspot_to_postgres")
    with dg.instance_for_test() as instance:
        kept, notes = coalesce_by_connection(instance, burst, settings)
    assert [r.run_key for r in kept] == ["trigger-t0", "trigger-t50"]
    assert kept[0].tags[COALESCED_TAG] == "50"
    assert COALESCED_TAG not in kept[1].tags
    assert any("50 triggers for connection" in note for note in notes)


def test_a_backlog_of_one_queued_connection_looks_the_run_up_once(local, monkeypatch):
    """500 triggers of a connection whose run is queued: one lookup, not 500 (a tick of a 10,000-event
    backlog took 8 s at 200 connections before, bench/scale.py)."""
    settings, repository = local
    ops = _sync_ops(repository)
    with dg.instance_for_test() as instance:
        queued = start_run_of(instance, connection_keys("stripe_to_s3"))
        lookups = []
        original = instance.get_latest_planned_materialization_info

        def counted(key, *args, **kwargs):
            lookups.append(key)
            return original(key, *args, **kwargs)

        monkeypatch.setattr(instance, "get_latest_planned_materialization_info", counted)
        kept, notes = coalesce_by_connection(
            instance, _requests(settings, ops, *["stripe_to_s3"] * 500), settings
        )
    assert kept == []
    (note,) = notes  # one line per connection, not per trigger
    assert queued in note and "500 trigger(s)" in note
    assert len(lookups) <= len(connection_keys("stripe_to_s3"))


def test_a_queued_run_answers_new_triggers_and_a_started_one_does_not(local):
    settings, repository = local
    ops = _sync_ops(repository)
    with dg.instance_for_test() as instance:
        queued = start_run_of(instance, connection_keys("stripe_to_s3"))  # created, not started
        kept, notes = coalesce_by_connection(instance, _requests(settings, ops, "stripe_to_s3"), settings)
        assert kept == []
        assert any(queued in note for note in notes)

        instance.handle_run_event(
            queued,
            dg.DagsterEvent(event_type_value="PIPELINE_START", job_name="some_sync"),
        )  # started: data may land after its sync began, so a new trigger gets a run
        kept, _ = coalesce_by_connection(instance, _requests(settings, ops, "stripe_to_s3"), settings)
        assert [r.run_key for r in kept] == ["trigger-t0"]
