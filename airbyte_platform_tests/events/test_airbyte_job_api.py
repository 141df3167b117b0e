"""The notification sensor's job lookup goes through the one Airbyte client: its token, its errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airbyte_platform.events.airbyte_jobs import (
    AirbyteJobApiResource,
    AirbyteJobLookupError,
    AirbyteJobNotFound,
    public_api_base,
)
from airbyte_platform_tests.airbyte_server.fake_airbyte import FakeAirbyteServer, FakeAirbyteState

CLIENT_ID, CLIENT_SECRET = "sensor-client", "sensor-secret"


@pytest.fixture
def server() -> Iterator[FakeAirbyteServer]:
    state = FakeAirbyteState()
    workspace = state.add_workspace("Data platform")
    state.add_connection(workspace, "hubspot_to_postgres", ["contacts"], connection_id="hubspot")
    with FakeAirbyteServer(
        state, username="airbyte", password="right", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    ) as running:
        yield running


def test_one_token_confirms_every_notification_of_an_evaluation(server):
    job_id = server.state.trigger("hubspot", "sync").job_id
    api = AirbyteJobApiResource(
        base_url=server.public_api_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    for _ in range(3):
        assert api.get_job(job_id)["connectionId"] == "hubspot"
    assert server.requests["token POST /applications/token"] == 1
    assert server.requests["GET /jobs/{id}"] == 3


def test_an_unknown_job_is_not_found_and_a_down_api_is_a_lookup_error_after_one_call(server):
    api = AirbyteJobApiResource(base_url=server.public_api_url, username="airbyte", password="right")
    with pytest.raises(AirbyteJobNotFound, match="no job 999"):
        api.get_job(999)
    server.faults.status(503, path=r"/jobs/\d+", times=None)
    with pytest.raises(AirbyteJobLookupError, match="unreachable"):
        api.get_job(1)
    assert server.requests["GET /jobs/{id}"] == 2  # no retries inside a sensor evaluation


def test_refused_credentials_name_the_variables_not_the_secret(server):
    api = AirbyteJobApiResource(base_url=server.public_api_url, username="airbyte", password="stale")
    with pytest.raises(AirbyteJobLookupError, match="AIRBYTE_API_USERNAME/AIRBYTE_API_PASSWORD") as raised:
        api.get_job(1)
    assert "stale" not in str(raised.value)


def test_the_public_api_url_comes_from_the_one_url_builder():
    assert public_api_base(None, cloud=False) is None  # local mode: nothing to confirm with
    assert public_api_base("http://airbyte:8000/", cloud=False) == "http://airbyte:8000/api/public/v1"
    assert public_api_base(None, cloud=True) == "https://api.airbyte.com/v1"
