"""The facade when the Dagster webserver is down: health says so, calls fail with a 503 problem that
names the webserver, credentials are still checked first, and nothing is launched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn

from airbyte_platform.airflow_compat.rest import FacadeConfig, build_airflow_api_app
from airbyte_platform.airflow_compat.rest.auth import BasicCredentials
from airbyte_platform.airflow_compat.rest.dagster_api import DagsterWebserver

from .spec import PROBLEM_JSON, validated
from .topology import free_port

CREDENTIALS = BasicCredentials(username="caller", password="pw-without-dagster")


@pytest.fixture(scope="module")
def facade_url() -> Iterator[str]:
    dead_webserver = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = build_airflow_api_app(
        FacadeConfig(credentials=CREDENTIALS, dagster=DagsterWebserver(dead_webserver, timeout=2))
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "facade did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/api/v1"
    server.should_exit = True
    thread.join(10)


def test_health_reports_every_part_unhealthy(facade_url):
    health = validated(requests.get(f"{facade_url}/health", timeout=10)).json()
    assert health["metadatabase"]["status"] == "unhealthy"
    assert {health[part]["status"] for part in ("scheduler", "triggerer", "dag_processor")} == {"unhealthy"}


def test_calls_fail_with_a_503_that_names_the_webserver(facade_url):
    auth = (CREDENTIALS.username, CREDENTIALS.password)
    for method, path, body in [
        ("GET", "/dags", None),
        ("POST", "/dags/parallel_syncs/dagRuns", {"dag_run_id": "while-down"}),
        ("GET", "/dags/parallel_syncs/dagRuns/while-down", None),
    ]:
        response = validated(
            requests.request(method, f"{facade_url}{path}", json=body, auth=auth, timeout=10)
        )
        assert response.status_code == 503 and response.headers["content-type"] == PROBLEM_JSON
        assert "Dagster webserver" in response.json()["detail"] and "unreachable" in response.json()["detail"]


def test_credentials_are_checked_before_dagster_is_asked(facade_url):
    response = validated(requests.get(f"{facade_url}/dags", auth=("caller", "wrong"), timeout=10))
    assert response.status_code == 401
    # An unknown DAG is a 404 from the DAG table alone: it needs no webserver either.
    missing = validated(
        requests.get(f"{facade_url}/dags/nope", auth=(CREDENTIALS.username, CREDENTIALS.password), timeout=10)
    )
    assert missing.status_code == 404
