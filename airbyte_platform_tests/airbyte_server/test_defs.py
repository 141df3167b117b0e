"""Prod definitions against the test server: discovery, the workspace state in Dagster's defs-state
storage, offline starts, run workers pinned to the version the code server used."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.definitions.repository_definition import RepositoryLoadData

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.core.min_records import CHECK_NAME
from airbyte_platform.ingestion.airbyte_server import refresh
from airbyte_platform.ingestion.airbyte_server.defs import (
    build_prod_ingestion_defs,
    build_prod_ingestion_resources,
)
from airbyte_platform.ingestion.airbyte_server.workspace_state import (
    AirbyteSnapshotUnavailableError,
    state_key,
    stored_workspace,
)
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.airbyte_server.conftest import (
    AWKWARD_CONNECTIONS,
    CLIENT_ID,
    CLIENT_SECRET,
    DUPLICATE_NAME,
    declared_id,
)

DECLARED_KEYS = {c.asset_key(s) for c in declared_connections() for s in c.streams}


def graph_of(settings) -> dg.AssetGraph:
    defs = dg.Definitions.merge(
        build_prod_ingestion_defs(settings),
        dg.Definitions(resources=build_prod_ingestion_resources(settings)),
    )
    return defs.resolve_asset_graph()


def discovered_keys(graph) -> set[dg.AssetKey]:
    return {k for k in graph.get_all_asset_keys() if k.path[0] == "airbyte"}


def test_every_connection_becomes_assets_in_few_calls(prod_settings, airbyte_server, dagster_instance):
    graph = graph_of(prod_settings)
    keys = set(graph.get_all_asset_keys())
    assert keys >= DECLARED_KEYS
    discovered = discovered_keys(graph)
    expected_streams = sum(len(set(s)) for s in AWKWARD_CONNECTIONS.values()) + 2  # + two "Nightly export"
    assert len(discovered) == expected_streams
    assert len({k.path[1] for k in discovered if k.path[1].startswith("nightly_export")}) == 2
    assert airbyte_server.total_requests == 4  # workspaces, workspace, connections, destinations
    assert dagster_instance.defs_state_storage.get_latest_version(state_key(prod_settings.airbyte))
    # the declared connections are found in the workspace and keep their keys and checks
    assert {k.asset_key for k in graph.asset_check_keys if k.name == CHECK_NAME} == DECLARED_KEYS
    zendesk = next(k for k in discovered if k.path[1] == "zendesk_snowflake")
    node = graph.get(zendesk)
    assert node.group_name == "airbyte_zendesk_snowflake"
    assert node.kinds == {"airbyte", "snowflake"}


def test_a_code_server_start_from_the_stored_state_makes_no_http_call(prod_settings, airbyte_server):
    first = graph_of(prod_settings)
    airbyte_server.reset_counts()
    airbyte_server.stop()  # Airbyte down: `dagster dev` must still load
    second = graph_of(prod_settings)
    assert set(second.get_all_asset_keys()) == set(first.get_all_asset_keys())
    assert airbyte_server.total_requests == 0


def test_no_state_and_airbyte_down_fails_saying_how_to_refresh(prod_env, tmp_path):
    settings = load_settings({**prod_env, "AIRBYTE_API_URL": "http://127.0.0.1:9"})
    with pytest.raises(AirbyteSnapshotUnavailableError) as failure:
        build_prod_ingestion_defs(settings)
    message = str(failure.value)
    assert "python -m airbyte_platform.ingestion.airbyte_server.refresh" in message
    assert "dg utils refresh-defs-state" in message
    assert "AIRBYTE_DISCOVERY=off" in message
    assert state_key(settings.airbyte) in message


def test_a_plain_import_reads_the_state_of_the_instance_of_dagster_home(
    prod_settings, airbyte_server, monkeypatch
):
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    from airbyte_platform.ingestion.airbyte_server import workspace_state

    first = graph_of(prod_settings)  # stored by a code server
    airbyte_server.reset_counts()
    workspace_state._home_instance.clear()
    with set_defs_state_storage(
        None
    ):  # `python -c "import airbyte_platform.definitions"`: no instance active
        again = graph_of(prod_settings)
    assert set(again.get_all_asset_keys()) == set(first.get_all_asset_keys())
    assert airbyte_server.total_requests == 0

    workspace_state._home_instance.clear()
    monkeypatch.delenv("DAGSTER_HOME")
    with (
        set_defs_state_storage(None),
        pytest.raises(AirbyteSnapshotUnavailableError, match="set DAGSTER_HOME"),
    ):
        build_prod_ingestion_defs(prod_settings)
    workspace_state._home_instance.clear()


def test_discovery_off_loads_the_declared_connections_without_http(prod_env, airbyte_server):
    settings = load_settings({**prod_env, "AIRBYTE_DISCOVERY": "off"})
    graph = graph_of(settings)
    assert set(graph.get_all_asset_keys()) == DECLARED_KEYS
    assert airbyte_server.total_requests == 0


def test_live_mode_refetches_and_falls_back_to_the_stored_state(prod_env, airbyte_server, airbyte_state):
    settings = load_settings({**prod_env, "AIRBYTE_DISCOVERY": "live"})
    graph_of(settings)
    workspace_id = next(iter(airbyte_state.workspaces))
    airbyte_state.add_connection(workspace_id, "Brand new", ["things"])
    assert dg.AssetKey(["airbyte", "brand_new", "things"]) in graph_of(settings).get_all_asset_keys()
    airbyte_server.stop()
    assert dg.AssetKey(["airbyte", "brand_new", "things"]) in graph_of(settings).get_all_asset_keys()


def test_the_state_of_another_server_is_never_used(prod_settings, prod_env, airbyte_server):
    graph_of(prod_settings)  # stored for this server
    elsewhere = load_settings({**prod_env, "AIRBYTE_API_URL": "http://127.0.0.1:9"})
    assert state_key(elsewhere.airbyte) != state_key(prod_settings.airbyte)
    with pytest.raises(AirbyteSnapshotUnavailableError):
        graph_of(elsewhere)  # nothing stored for that server, and it cannot be reached


def test_renames_keep_keys_across_refreshes(prod_settings, prod_env, airbyte_state, monkeypatch, capsys):
    before = discovered_keys(graph_of(prod_settings))
    zendesk = next(c for c in airbyte_state.connections.values() if c.name.startswith("Zendesk"))
    airbyte_state.rename_connection(zendesk.connection_id, "Zendesk (old)")
    workspace_id = next(iter(airbyte_state.workspaces))
    airbyte_state.add_connection(workspace_id, "Zendesk → Snowflake", ["tickets"])
    for name, value in prod_env.items():
        monkeypatch.setenv(name, value)
    assert refresh.main([]) == 0
    assert "connections" in capsys.readouterr().out
    after = discovered_keys(graph_of(prod_settings))
    assert before <= after
    snapshot = stored_workspace(prod_settings)
    parts = {c.name: c.key_part for c in snapshot.connections}
    assert parts["Zendesk (old)"] == "zendesk_snowflake"
    assert parts["Zendesk → Snowflake"].startswith("zendesk_snowflake_")


def test_run_workers_rebuild_the_version_the_code_server_loaded(
    prod_settings, prod_env, airbyte_server, airbyte_state
):
    code_server = DefinitionsLoadContext(load_type=DefinitionsLoadType.INITIALIZATION)
    with DefinitionsLoadContext.scoped(code_server):
        defs = build_prod_ingestion_defs(prod_settings)
    pinned = code_server.accessed_defs_state_info
    assert pinned is not None and pinned.get_version(state_key(prod_settings.airbyte))
    # a refresh after the code server loaded stores a newer version; Airbyte then goes down
    airbyte_state.add_connection(next(iter(airbyte_state.workspaces)), "Added later", ["rows"])
    newer = discovered_keys(graph_of(load_settings({**prod_env, "AIRBYTE_DISCOVERY": "live"})))
    assert dg.AssetKey(["airbyte", "added_later", "rows"]) in newer
    airbyte_server.reset_counts()
    airbyte_server.stop()
    run_worker = DefinitionsLoadContext(
        load_type=DefinitionsLoadType.RECONSTRUCTION,
        repository_load_data=RepositoryLoadData(defs_state_info=pinned),
    )
    with DefinitionsLoadContext.scoped(run_worker):
        rebuilt = build_prod_ingestion_defs(prod_settings)
    keys = {key for assets in rebuilt.assets for key in assets.keys}
    assert keys == {key for assets in defs.assets for key in assets.keys}
    assert dg.AssetKey(["airbyte", "added_later", "rows"]) not in keys
    assert airbyte_server.total_requests == 0


def test_cloud_mode_with_client_credentials(prod_env, airbyte_server, airbyte_state, monkeypatch):
    env = {k: v for k, v in prod_env.items() if not k.startswith("AIRBYTE_API_")}
    env |= {
        "AIRBYTE_CLOUD": "true",
        "AIRBYTE_API_URL": airbyte_server.url,  # stands in for https://api.airbyte.com
        "AIRBYTE_CLIENT_ID": CLIENT_ID,
        "AIRBYTE_CLIENT_SECRET": CLIENT_SECRET,
        "AIRBYTE_WORKSPACE_ID": next(iter(airbyte_state.workspaces)),
    }
    monkeypatch.delenv("AIRBYTE_API_USERNAME")
    monkeypatch.setenv("AIRBYTE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AIRBYTE_CLIENT_SECRET", CLIENT_SECRET)
    settings = load_settings(env)
    graph = graph_of(settings)
    assert len(discovered_keys(graph)) > 0
    assert all(
        e.base_url.endswith("/v1") and "/api/public" not in e.base_url for e in airbyte_server.exchanges
    )
    assert airbyte_server.requests["token POST /applications/token"] == 1


@pytest.mark.slow  # importing the whole project (Snowflake, Databricks, GX) takes ~25 s here
def test_project_definitions_load_in_prod_mode_against_the_test_server(prod_settings, airbyte_server):
    from airbyte_platform.definitions import build_definitions

    graph = build_definitions(prod_settings).resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) >= DECLARED_KEYS | discovered_keys(graph)
    assert len(discovered_keys(graph)) > 0
    assert dg.AssetKey(["airbyte", "class", "def"]) in graph.get_all_asset_keys()


def test_declared_connection_ids_are_not_discovered_twice(prod_settings):
    graph = graph_of(prod_settings)
    declared_ids = {declared_id(c) for c in declared_connections()}
    for key in discovered_keys(graph):
        assert graph.get(key).metadata["dagster-airbyte/connection_id"] not in declared_ids
    assert DUPLICATE_NAME


def test_events_know_the_discovered_connections_from_the_stored_state(prod_settings, dagster_instance):
    """The receiver validates a trigger's connection_id against declared + discovered connections: in its
    own process (no instance active) it reads the state of the instance of DAGSTER_HOME."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    from airbyte_platform.events.routes import AIRBYTE_EVENT_DRIVEN_SYNC, TriggerError, validate_trigger
    from airbyte_platform.ingestion.airbyte_server import workspace_state

    graph = graph_of(prod_settings)  # the code server stored the workspace state
    discovered_id = graph.get(next(iter(discovered_keys(graph)))).metadata["dagster-airbyte/connection_id"]
    workspace_state._home_instance.clear()  # a process whose DAGSTER_HOME is this test's
    with set_defs_state_storage(None):  # as in the receiver's process: DAGSTER_HOME only
        config = validate_trigger(AIRBYTE_EVENT_DRIVEN_SYNC, {"connection_id": discovered_id}, prod_settings)
        assert config == {"connection_id": discovered_id}
        with pytest.raises(TriggerError, match="unknown connection_id"):
            validate_trigger(AIRBYTE_EVENT_DRIVEN_SYNC, {"connection_id": "not-a-connection"}, prod_settings)
