"""The fake server and the client hold to Airbyte's published public API (shared/airbyte).

Every test using the `airbyte_server` fixture validates its exchanges at teardown; these tests make
sure every endpoint the client uses is exercised, and that the validation does catch violations.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from airbyte_platform_tests.airbyte_server.contract import SPEC_PATH, check_exchange, violations
from airbyte_platform_tests.airbyte_server.fake_airbyte.server import FakeAirbyteServer
from airbyte_platform_tests.airbyte_server.test_client import make_client

SHARED_SPEC = Path("/work/shared/airbyte/public-api.openapi.yaml")


@pytest.mark.skipif(not SHARED_SPEC.exists(), reason="shared/airbyte is not mounted here")
def test_the_spec_copy_is_verbatim():
    assert SPEC_PATH.read_bytes() == SHARED_SPEC.read_bytes()


def test_every_endpoint_the_client_uses_is_in_the_contract(airbyte_server: FakeAirbyteServer, airbyte_state):
    client = make_client(airbyte_server)
    workspace_id = client.resolve_workspace_id()
    client.validate_workspace(workspace_id)
    connections = client.list_connections(workspace_id)
    client.list_destinations(workspace_id)
    connection_id = connections[0]["connectionId"]
    client.get_connection(connection_id)
    job = client.trigger_job(connection_id, "sync")
    client.list_recent_jobs(connection_id)
    client.get_job(job["jobId"])
    client.cancel_job(job["jobId"])
    client.trigger_job(connection_id, "reset")
    public = [e for e in airbyte_server.exchanges if e.api == "public"]
    routes = {airbyte_server._route_key("public", e.method, e.path) for e in public}
    assert routes == {
        "GET /workspaces",
        "GET /workspaces/{id}",
        "GET /connections",
        "GET /connections/{id}",
        "GET /destinations",
        "POST /jobs",
        "GET /jobs",
        "GET /jobs/{id}",
        "DELETE /jobs/{id}",
    }
    assert violations(airbyte_server.exchanges) == []


def test_the_validation_catches_a_response_outside_the_contract(airbyte_server: FakeAirbyteServer):
    client = make_client(airbyte_server)
    connection_id = client.list_connections(client.resolve_workspace_id())[0]["connectionId"]
    job = client.trigger_job(connection_id)
    [exchange] = [e for e in airbyte_server.exchanges if e.method == "POST"]
    broken = {k: v for k, v in job.items() if k != "startTime"} | {"status": "exploded"}
    problem = check_exchange(replace(exchange, response_body=json.dumps(broken).encode()))
    assert problem is not None and "startTime" in problem and "exploded" in problem


def test_the_validation_catches_a_request_outside_the_contract(airbyte_server: FakeAirbyteServer):
    client = make_client(airbyte_server)
    client.resolve_workspace_id()
    [exchange] = airbyte_server.exchanges
    assert check_exchange(exchange) is None
    assert "limit" in check_exchange(replace(exchange, query=(("limit", "1000"),)))
    airbyte_server.exchanges.clear()  # the fixture's own check would (rightly) flag nothing else here
