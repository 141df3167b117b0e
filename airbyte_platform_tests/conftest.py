"""Suite-wide options only; area fixtures live in each area's conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite airbyte_platform_tests/snapshots/* from the current definitions (a deliberate rename)",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Local PostgreSQL servers outlive the process that starts them (run processes share them);
    # a test session stops the ones it started, so a green run leaves no server behind.
    # (Servers started by the processes of an end-to-end test are stopped by that test's fixture.)
    from airbyte_platform.local_services.postgres import stop_servers_started_here

    stop_servers_started_here()


@pytest.fixture(autouse=True)
def _fresh_definitions_load_context() -> Iterator[None]:
    """Each test loads definitions as a fresh process would. Dagster keeps the load context in a
    process-wide singleton that in-process executions set and never reset; one process per load in
    production, but many tests in one worker here (a leaked RECONSTRUCTION context made later loads
    skip fetching the Airbyte workspace state)."""
    from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext

    DefinitionsLoadContext._instance = None
    yield
    DefinitionsLoadContext._instance = None
