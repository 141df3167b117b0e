"""Discovery: paged listings (N/100 calls), and valid, unique, stable, order-independent keys."""

from __future__ import annotations

import math
import random
import re

import pytest

from airbyte_platform.ingestion.airbyte_server.discovery import assign_connection_parts, build_snapshot
from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot
from airbyte_platform_tests.airbyte_server.conftest import PASSWORD, USERNAME
from airbyte_platform_tests.airbyte_server.fake_airbyte import FakeAirbyteServer, FakeAirbyteState
from airbyte_platform_tests.airbyte_server.test_client import make_client

VALID_PART = re.compile(r"^[a-z_][a-z0-9_]*$")


@pytest.mark.parametrize("connections", [0, 1, 100, 101, 250])
def test_discovery_makes_one_call_per_hundred_connections(connections):
    state = FakeAirbyteState()
    workspace_id = state.seed(connections, 3, destinations=5)
    with FakeAirbyteServer(state, username=USERNAME, password=PASSWORD) as server:
        client = make_client(server, workspace_id=workspace_id)
        snapshot = build_snapshot_from(client)
        assert len(snapshot.connections) == connections
        assert sum(len(c.streams) for c in snapshot.connections) == 3 * connections
        pages = max(1, math.ceil(connections / 100))
        assert dict(server.requests) == {
            "GET /workspaces/{id}": 1,
            "GET /connections": pages,
            "GET /destinations": 1,
        }
        assert snapshot.http_calls == pages + 2


@pytest.mark.parametrize(("configured", "pages"), [(1000, 3), (50, 5)])
def test_pages_are_the_api_maximum_unless_configured_lower(configured, pages):
    # The public API answers 400 above limit=100; a lower configured page size is respected.
    state = FakeAirbyteState()
    workspace_id = state.seed(250, 1, destinations=1)
    with FakeAirbyteServer(state, username=USERNAME, password=PASSWORD) as server:
        client = make_client(server, workspace_id=workspace_id, max_items_per_page=configured)
        assert len(build_snapshot_from(client).connections) == 250
        assert server.requests["GET /connections"] == pages


def build_snapshot_from(client) -> WorkspaceSnapshot:
    from airbyte_platform.ingestion.airbyte_server.discovery import fetch_snapshot

    return fetch_snapshot(client)


def test_an_unset_workspace_id_costs_one_listing_call(airbyte_server):
    snapshot = build_snapshot_from(make_client(airbyte_server))
    assert snapshot.workspace_id == next(iter(airbyte_server.state.workspaces))
    assert airbyte_server.requests["GET /workspaces"] == 1


def raw_connection(connection_id: str, name: str, streams: list[str], status: str = "active") -> dict:
    return {
        "connectionId": connection_id,
        "name": name,
        "status": status,
        "destinationId": "d1",
        "configurations": {"streams": [{"name": s, "syncMode": "incremental_append"} for s in streams]},
    }


AWKWARD = [
    raw_connection("c-1", "Stripe → S3 (prod)", ["customers", "Customers", "public.order-items", "1st"]),
    raw_connection("c-2", "stripe s3 prod", ["customers"]),
    raw_connection("c-3", "class", ["def", "None", "", "   "]),
    raw_connection("c-4", "Nightly", ["events", "events"]),
    raw_connection("c-5", "Nightly", ["events"]),
    raw_connection("c-6", "日本語", ["データ"]),
    raw_connection("c-7", "gone", ["x"], status="deprecated"),
]


def snapshot_of(raw: list[dict], **kwargs) -> WorkspaceSnapshot:
    return build_snapshot(
        api_url="http://airbyte/api/public/v1",
        workspace_id="w",
        raw_connections=raw,
        raw_destinations=[{"destinationId": "d1", "name": "pg", "destinationType": "postgres"}],
        **kwargs,
    )


def keys(snapshot: WorkspaceSnapshot) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (c.connection_id, s.name): (c.key_part, s.key_part) for c in snapshot.connections for s in c.streams
    }


def test_odd_names_give_valid_unique_keys():
    snapshot = snapshot_of(AWKWARD)
    found = keys(snapshot)
    assert all(VALID_PART.match(part) for pair in found.values() for part in pair)
    assert len(set(found.values())) == len(found)
    assert "c-7" not in {c.connection_id for c in snapshot.connections}  # deleted connections are skipped
    assert [s.name for s in snapshot.connections[0].streams].count("events") <= 1
    nightly = sorted(c.key_part for c in snapshot.connections if c.name == "Nightly")
    assert nightly == ["nightly_c4", "nightly_c5"]  # same name: told apart by connection id


def test_keys_do_not_depend_on_listing_order():
    expected = keys(snapshot_of(AWKWARD))
    for seed in range(5):
        shuffled = AWKWARD[:]
        random.Random(seed).shuffle(shuffled)
        assert keys(snapshot_of(shuffled)) == expected
    ordered = [c.key_part for c in snapshot_of(AWKWARD).connections]
    assert ordered == sorted(ordered)


def test_a_renamed_connection_keeps_its_keys_and_new_ones_do_not_steal_them():
    first = snapshot_of([raw_connection("c-1", "Stripe", ["charges"])])
    renamed = snapshot_of(
        [raw_connection("c-1", "Stripe (legacy)", ["charges"]), raw_connection("c-9", "Stripe", ["charges"])],
        pinned_parts=first.key_parts,
    )
    parts = {c.connection_id: c.key_part for c in renamed.connections}
    assert parts["c-1"] == "stripe"
    assert parts["c-9"] != "stripe" and parts["c-9"].startswith("stripe_")


def test_declared_names_are_reserved():
    parts = assign_connection_parts([("c-1", "stripe_to_s3")], pinned={}, reserved={"stripe_to_s3"})
    assert parts["c-1"].startswith("stripe_to_s3_")


def test_snapshot_json_round_trips():
    snapshot = snapshot_of(AWKWARD)
    assert WorkspaceSnapshot.from_json(snapshot.to_json()) == snapshot


def test_the_load_path_builds_the_specs_of_the_translator_interface():
    # `connection_specs` skips AssetSpec's constructor for speed; it must give exactly what
    # dagster-airbyte's per-stream `get_asset_spec` gives, validated, for every stream.
    from airbyte_platform.ingestion.airbyte_server.translator import PlatformAirbyteTranslator, table_props

    snapshot = build_snapshot(
        api_url="http://airbyte/api/public/v1",
        workspace_id="w",
        raw_connections=[{**AWKWARD[0], "prefix": "raw_"}, *AWKWARD[1:]],
        raw_destinations=[
            {
                "destinationId": "d1",
                "name": "pg",
                "destinationType": "postgres",
                "configuration": {"database": "analytics", "schema": "public"},
            }
        ],
    )
    translator = PlatformAirbyteTranslator(snapshot)
    specs = []
    for connection in snapshot.connections:
        fast = translator.connection_specs(connection)
        assert fast == [translator.get_asset_spec(props) for props in table_props(snapshot, connection)]
        specs += fast
    assert len(specs) == sum(len(c.streams) for c in snapshot.connections) > 0
    tables = {spec.metadata["dagster/table_name"] for spec in specs}
    assert "analytics.public.raw_customers" in tables
