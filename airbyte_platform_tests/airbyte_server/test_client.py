"""The HTTP client against the fake server: what is retried, what fails at once, and how it says so."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from airbyte_platform.ingestion.airbyte_server.client import ResilientAirbyteClient
from airbyte_platform.ingestion.airbyte_server.errors import (
    AirbyteApiError,
    AirbyteNotFoundError,
    AirbyteRetriesExhaustedError,
    AirbyteTransientError,
    AirbyteUnreachableError,
)
from airbyte_platform.ingestion.airbyte_server.retry import RetrySettings
from airbyte_platform_tests.airbyte_server.conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME
from airbyte_platform_tests.airbyte_server.fake_airbyte import FakeAirbyteServer

CREDENTIALS = "AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD"


def make_client(server: FakeAirbyteServer, max_retries: int = 6, **overrides) -> ResilientAirbyteClient:
    settings = {
        "rest_api_base_url": server.public_api_url,
        "configuration_api_base_url": server.config_api_url,
        "username": USERNAME,
        "password": PASSWORD,
        "retry": RetrySettings(
            max_retries=max_retries, backoff_factor=0.01, max_delay=0.05, max_retry_after=1.0
        ),
        "credential_hint": CREDENTIALS,
        **overrides,
    }
    return ResilientAirbyteClient(**settings)


def test_transient_failures_are_retried_until_success(airbyte_server):
    client = make_client(airbyte_server, max_retries=10)
    for kind in ("503", "502", "500", "drop_before", "drop_after"):
        if kind.startswith("drop"):
            airbyte_server.faults.drop(after=kind == "drop_after", path="/workspaces", times=2)
        else:
            airbyte_server.faults.status(int(kind), path="/workspaces", times=2)
    workspaces = client.list_workspaces()
    assert [w["name"] for w in workspaces] == ["Data platform"]
    assert airbyte_server.requests["GET /workspaces"] == 11  # 10 injected failures, then one success


class RecordingClock:
    """A virtual clock: sleeping records the wait and moves time, nothing waits for real."""

    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 0.0)


def test_retry_after_is_honored_and_capped(airbyte_server):
    clock = RecordingClock()
    client = make_client(airbyte_server, clock=clock, retry=RetrySettings(max_retry_after=10.0))
    airbyte_server.faults.status(429, path="/workspaces", retry_after=7)
    airbyte_server.faults.status(503, path="/workspaces", retry_after=3600)
    client.list_workspaces()
    assert clock.sleeps == [7, 10.0]  # the server's wait, then the cap instead of an hour
    assert airbyte_server.requests["GET /workspaces"] == 3


def test_backoff_doubles_with_jitter_up_to_its_ceiling(airbyte_server):
    clock = RecordingClock()
    settings = RetrySettings(max_retries=6, backoff_factor=1.0, max_delay=8.0)
    client = make_client(airbyte_server, clock=clock, retry=settings)
    airbyte_server.faults.status(502, path="/workspaces", times=6)
    client.list_workspaces()
    assert len(clock.sleeps) == 6
    assert clock.sleeps[0] == 0  # urllib3 retries the first failure at once
    for retry, wait in enumerate(clock.sleeps[1:], start=2):
        base = 2.0 ** (retry - 1)
        assert min(base, 8.0) <= wait <= min(base + 1.0, 8.0)  # plus up to one factor of jitter


def test_a_401_fails_in_one_request_naming_the_variables(airbyte_server):
    client = make_client(airbyte_server, password="wrong")
    with pytest.raises(AirbyteApiError) as failure:
        client.list_workspaces()
    assert failure.value.status == 401
    assert CREDENTIALS in str(failure.value.description)
    assert "wrong" not in str(failure.value.description)
    assert airbyte_server.total_requests == 1
    assert failure.value.allow_retries is False


def test_403_and_400_are_not_retried(airbyte_server):
    client = make_client(airbyte_server)
    airbyte_server.faults.status(403, path="/workspaces")
    with pytest.raises(AirbyteApiError, match="lacks permission"):
        client.list_workspaces()
    airbyte_server.faults.status(400, path="/connections")
    with pytest.raises(AirbyteApiError) as failure:
        client.list_connections(next(iter(airbyte_server.state.workspaces)))
    assert failure.value.status == 400
    assert airbyte_server.requests["GET /workspaces"] == 1
    assert airbyte_server.requests["GET /connections"] == 1


def test_404_names_the_connection_id_variable(airbyte_server):
    client = make_client(airbyte_server)
    with pytest.raises(AirbyteNotFoundError, match="AIRBYTE_HUBSPOT_CONNECTION_ID"):
        client.get_connection(
            "11111111-2222-3333-4444-555555555555", not_found_hint="AIRBYTE_HUBSPOT_CONNECTION_ID"
        )


def test_retries_are_bounded(airbyte_server):
    client = make_client(airbyte_server, max_retries=3)
    airbyte_server.faults.status(503, path="/workspaces", times=None)
    with pytest.raises(AirbyteRetriesExhaustedError, match="still failing after 4 attempts"):
        client.list_workspaces()
    assert airbyte_server.requests["GET /workspaces"] == 4


def test_trigger_is_never_retried_blindly(airbyte_server, airbyte_state):
    client = make_client(airbyte_server)
    connection_id = next(iter(airbyte_state.connections))
    airbyte_server.faults.drop(after=True, method="POST", path="/jobs")
    with pytest.raises(AirbyteTransientError):
        client.trigger_job(connection_id)
    assert airbyte_server.requests["POST /jobs"] == 1
    assert len(airbyte_state.jobs_of(connection_id)) == 1  # the lost response did create a job


def test_client_credentials_get_a_token_and_refresh_it_when_it_expires(airbyte_server):
    client = make_client(
        airbyte_server, username=None, password=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    client.list_workspaces()
    assert airbyte_server.requests["token POST /applications/token"] == 1
    airbyte_server.tokens.clear()  # the server forgets (expires) every token
    client.list_workspaces()
    assert airbyte_server.requests["token POST /applications/token"] == 2
    assert airbyte_server.requests["GET /workspaces"] == 3  # one rejected with 401, then retried once


def test_wrong_client_secret_fails_at_the_token_request(airbyte_server):
    client = make_client(
        airbyte_server,
        username=None,
        password=None,
        client_id=CLIENT_ID,
        client_secret="nope",
        credential_hint="AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET",
    )
    with pytest.raises(AirbyteApiError, match="AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET"):
        client.list_workspaces()
    assert airbyte_server.total_requests == 1


def test_workspace_is_resolved_when_there_is_exactly_one(airbyte_server, airbyte_state):
    client = make_client(airbyte_server)
    assert client.resolve_workspace_id() == next(iter(airbyte_state.workspaces))
    airbyte_state.add_workspace("Sandbox")
    with pytest.raises(AirbyteApiError, match="set AIRBYTE_WORKSPACE_ID") as failure:
        client.resolve_workspace_id()
    assert "'Sandbox'" in str(failure.value.description)


def test_a_non_json_answer_says_where_the_url_should_point(airbyte_server):
    client = make_client(airbyte_server)
    airbyte_server.faults.html(path="/workspaces")
    with pytest.raises(AirbyteApiError, match=r"not JSON .*text/html.*/api/public/v1"):
        client.list_workspaces()


def credentials_client(server: FakeAirbyteServer, **overrides) -> ResilientAirbyteClient:
    return make_client(
        server, username=None, password=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **overrides
    )


def test_one_token_serves_many_calls_and_threads(airbyte_server):
    client = credentials_client(airbyte_server)
    workspace_id = next(iter(airbyte_server.state.workspaces))
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: client.validate_workspace(workspace_id), range(12)))
    assert airbyte_server.requests["token POST /applications/token"] == 1
    assert airbyte_server.requests["GET /workspaces/{id}"] == 12


def test_the_token_is_refreshed_before_it_expires_without_a_rejected_call(airbyte_server):
    clock = RecordingClock()
    client = credentials_client(airbyte_server, clock=clock)
    client.list_workspaces()
    clock.t += airbyte_server.token_ttl_seconds - 60  # still comfortably valid
    client.list_workspaces()
    assert airbyte_server.requests["token POST /applications/token"] == 1
    clock.t += 45  # within the refresh margin of its expiry
    client.list_workspaces()
    assert airbyte_server.requests["token POST /applications/token"] == 2
    assert airbyte_server.statuses("GET /workspaces") == [200, 200, 200]  # no call was refused


def test_copies_with_another_retry_budget_share_the_token_and_the_count(airbyte_server):
    client = credentials_client(airbyte_server)
    quick = client.with_retries(0)
    client.list_workspaces()
    quick.list_workspaces()
    assert quick.retry.max_retries == 0 and quick.request_max_retries == 0
    assert airbyte_server.requests["token POST /applications/token"] == 1
    assert client.http_calls == quick.http_calls == 3  # token + two listings


def test_a_config_api_read_is_retried_but_a_job_creation_is_not(airbyte_server, airbyte_state):
    client = make_client(airbyte_server, clock=RecordingClock(), retry=RetrySettings(max_retry_after=60))
    connection_id = next(iter(airbyte_state.connections))
    job = airbyte_state.trigger(connection_id, "sync")
    airbyte_server.faults.status(502, method="POST", path="/jobs/get", times=2)
    assert client.get_job_info(job.job_id, "stats") is not None
    assert airbyte_server.statuses("config POST /jobs/get") == [502, 502, 200]

    airbyte_server.faults.status(503, method="POST", path="/jobs", retry_after=9)
    with pytest.raises(AirbyteTransientError) as raised:
        client.trigger_job(connection_id)
    assert raised.value.retry_after == 9 and raised.value.unreachable
    assert airbyte_server.statuses("POST /jobs") == [503]


def test_an_unreachable_server_raises_the_unreachable_error_after_every_retry():
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = RecordingClock()
    client = ResilientAirbyteClient(
        rest_api_base_url=f"http://127.0.0.1:{port}/api/public/v1",
        retry=RetrySettings(max_retries=3, backoff_factor=1.0),
        clock=clock,
    )
    with pytest.raises(AirbyteUnreachableError, match="still failing after 4 attempts") as raised:
        client.list_workspaces()
    assert isinstance(raised.value, AirbyteRetriesExhaustedError)  # what outage handling catches
    assert len(clock.sleeps) == 3 and client.http_calls == 4
