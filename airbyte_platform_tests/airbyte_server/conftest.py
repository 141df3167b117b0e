"""Fixtures: a loopback fake Airbyte holding the declared connections and some awkward ones.

Every test that uses `airbyte_server` is also a contract test: at teardown, each recorded
public-API request and response is validated against Airbyte's published OpenAPI spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from airbyte_platform.core.catalog import ConnectionSpec, declared_connections
from airbyte_platform.ingestion.airbyte_server.defs import build_workspace
from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform.settings import Settings, load_settings
from airbyte_platform_tests.airbyte_server.contract import violations
from airbyte_platform_tests.airbyte_server.fake_airbyte import (
    FakeAirbyteServer,
    FakeAirbyteState,
    JobPlan,
    StreamConf,
)
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

USERNAME = PROD_PLACEHOLDERS["AIRBYTE_API_USERNAME"]
PASSWORD = PROD_PLACEHOLDERS["AIRBYTE_API_PASSWORD"]
CLIENT_ID, CLIENT_SECRET = "dagster-client", "client-secret-value"

# Undeclared connections with names that make naive keys collide or break.
AWKWARD_CONNECTIONS: dict[str, list[str]] = {
    "Zendesk → Snowflake": ["tickets", "ticket-metrics", "users"],
    "class": ["def", "1st stream", "Ünïcode Naïve", "Ünïcode Naïve"],  # reserved word, digit, dup stream
    "Shop (EU)": ["orders"],
    "Shop  EU": ["orders"],  # cleans to the same part as "Shop (EU)"
    "stripe_to_s3": ["charges"],  # a declared connection's name, another id
}
DUPLICATE_NAME = "Nightly export"  # two connections with exactly this name


def declared_id(connection: ConnectionSpec) -> str:
    return PROD_PLACEHOLDERS[connection.connection_id_variable]


def airbyte_sync_mode(stream_sync_mode: str) -> str:
    return "incremental_append" if stream_sync_mode == "incremental" else "full_refresh_overwrite"


def build_state() -> FakeAirbyteState:
    state = FakeAirbyteState(default_plan=JobPlan(duration_seconds=0.3, rows_per_stream=500))
    workspace = state.add_workspace("Data platform")
    lake = state.add_destination(workspace, "S3 data lake", "s3", database=None, schema=None)
    postgres = state.add_destination(workspace, "Analytics PostgreSQL", "postgres")
    snowflake = state.add_destination(workspace, "Snowflake", "snowflake", "ANALYTICS", "RAW")
    for connection in declared_connections():
        state.add_connection(
            workspace,
            connection.title,
            [
                StreamConf(
                    s.name,
                    sync_mode=airbyte_sync_mode(s.sync_mode),
                    cursor_field=(s.cursor_field,) if s.cursor_field else (),
                    primary_key=tuple((k,) for k in s.primary_key),
                )
                for s in connection.streams
            ],
            destination_id=lake if connection.destination == "lake" else postgres,
            connection_id=declared_id(connection),
        )
    for name, streams in AWKWARD_CONNECTIONS.items():
        state.add_connection(workspace, name, streams, destination_id=snowflake)
    for _ in range(2):
        state.add_connection(workspace, DUPLICATE_NAME, ["events"], destination_id=postgres)
    return state


@pytest.fixture
def airbyte_state() -> FakeAirbyteState:
    return build_state()


@pytest.fixture
def airbyte_server(airbyte_state: FakeAirbyteState) -> Iterator[FakeAirbyteServer]:
    server = FakeAirbyteServer(
        airbyte_state,
        username=USERNAME,
        password=PASSWORD,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        record=True,
    ).start()
    try:
        yield server
    finally:
        server.stop()
    problems = violations(server.exchanges)
    assert not problems, "requests/responses outside Airbyte's public API contract:\n" + "\n".join(
        problems[:20]
    )


@pytest.fixture
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """An instance whose defs-state storage holds the Airbyte workspace state (as a code server's
    does); DAGSTER_HOME points at it, so refresh.py and other processes find the same storage."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def prod_env(
    airbyte_server: FakeAirbyteServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dagster_instance: dg.DagsterInstance,
) -> dict[str, str]:
    """Prod-mode environment pointing at the fake server (credentials also in os.environ for EnvVar)."""
    env = {
        **PROD_PLACEHOLDERS,
        "AIRBYTE_API_URL": airbyte_server.url,
        "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
        "AIRBYTE_WEBAPP_URL": "https://airbyte.example.com",
    }
    for name in ("AIRBYTE_API_USERNAME", "AIRBYTE_API_PASSWORD"):
        monkeypatch.setenv(name, env[name])
    return env


@pytest.fixture
def prod_settings(prod_env: dict[str, str]) -> Settings:
    return load_settings(prod_env)


FAST: dict[str, Any] = {
    "request_retry_delay": 0.01,
    "retry_max_delay": 0.05,
    "max_retry_after": 0.2,
    "poll_interval": 0.05,
    "request_timeout": 5,
}


@pytest.fixture
def workspace(prod_settings: Settings) -> AirbyteServerWorkspace:
    """The prod resource with short retry and poll delays."""
    return build_workspace(prod_settings, **FAST)
