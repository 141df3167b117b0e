"""Suite-wide options, and the one PostgreSQL of each test worker (the webhook inbox and the CDC
source of the events, operations and deploy tests); other area fixtures live in each area's conftest.py."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

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


# -- the worker's PostgreSQL (pgserver) ------------------------------------------------------------
INBOX_TABLES = "webhook_events, webhook_consumers, webhook_inbox_probe, webhook_intake"


@pytest.fixture(scope="session")
def pg_root() -> Iterator[Path]:
    # pgserver runs PostgreSQL as its own system user when the tests run as root: pytest's 0700
    # tmp_path is out of its reach, so use a world-traversable folder.
    from airbyte_platform.local_services.postgres import stop_local_postgres_under

    folder = Path(tempfile.mkdtemp(prefix="tests_pg_"))
    folder.chmod(0o755)
    yield folder
    stop_local_postgres_under(folder, max_depth=1)  # started by a test of this worker
    # Deleting a pgdata folder takes seconds on this disk: let a detached `rm` do it.
    subprocess.Popen(["rm", "-rf", str(folder)], start_new_session=True)


@pytest.fixture(scope="session")
def cdc_source_uri(pg_root: Path) -> str:
    """A real PostgreSQL 16 with wal_level=logical, the app tables, a publication and `airbyte_slot`."""
    from airbyte_platform.events.cdc.local_source import ensure_local_cdc_source

    return ensure_local_cdc_source(pg_root / "cdc", "airbyte_slot")


@pytest.fixture(scope="session")
def postgres_inbox_dsn(pg_root: Path, cdc_source_uri: str) -> str:
    """The inbox database of this worker, on the same server as the CDC source (one server per
    worker: enabling logical WAL restarts it, so it is set up before any inbox connects)."""
    from airbyte_platform.events.inbox import open_inbox
    from airbyte_platform.local_services.postgres import local_postgres_uri

    dsn = local_postgres_uri(pg_root / "cdc", "inbox_tests")
    with open_inbox(dsn):  # creates the schema once
        pass
    return dsn


@pytest.fixture
def pg_inbox_dsn(postgres_inbox_dsn: str) -> str:
    """The worker's inbox, emptied: each test starts from no events, positions and counters."""
    import psycopg

    with psycopg.connect(postgres_inbox_dsn, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {INBOX_TABLES} RESTART IDENTITY")
    return postgres_inbox_dsn
