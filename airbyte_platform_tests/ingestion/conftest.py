"""Fixtures of the ingestion tests: a real PostgreSQL, the fake connector, connections and runners."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from airbyte_platform.core.catalog import ConnectionSpec, LocalStandIn, StreamSpec
from airbyte_platform.core.naming import clean_name
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner
from airbyte_platform.local_services.postgres import local_postgres, local_postgres_uri

FAKE_SOURCE = Path(__file__).with_name("embedded_fake_source.py")

ITEMS = StreamSpec(
    name="items", primary_key=("id",), cursor_field="updated_at", sync_mode="incremental", min_records=1
)
EVENTS = StreamSpec(name="events", primary_key=(), cursor_field="seq", sync_mode="incremental", min_records=1)


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 (pgserver) with its own data directory for this test session."""
    pgdata = tmp_path_factory.mktemp("pgdata") / "data"
    uri = local_postgres_uri(pgdata, "analytics")
    yield uri
    server = local_postgres(pgdata)
    server.cleanup_mode = (
        "stop"  # local_postgres keeps servers running for other processes; tests stop theirs
    )
    server.cleanup()


@pytest.fixture
def pg(postgres_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        yield connection


@pytest.fixture
def fake_connection(request: pytest.FixtureRequest) -> Callable[..., ConnectionSpec]:
    """Build a connection to the fake source; unique source names keep tests' tables and folders apart."""
    counter = iter(range(1_000_000))

    def build(
        destination: str = "lake",
        *,
        streams: tuple[StreamSpec, ...] = (ITEMS, EVENTS),
        config: dict[str, Any] | None = None,
    ) -> ConnectionSpec:
        source = clean_name(f"fake_{request.node.name[:30]}_{next(counter)}")
        return ConnectionSpec(
            name=f"{source}_to_{destination}",
            title=f"Fake → {destination}",
            source=source,
            destination=destination,  # type: ignore[arg-type]
            connection_id_variable="UNUSED",
            description="test connection",
            owners=(),
            local=LocalStandIn(connector=f"python:{FAKE_SOURCE}", config=config or {"records": 100}),
            streams=streams,
        )

    return build


@pytest.fixture
def lake_root(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


def make_runner(
    tmp_path: Path, lake_root: str, postgres_dsn: str | None, **options: Any
) -> EmbeddedAirbyteRunner:
    return EmbeddedAirbyteRunner(
        connectors_dir=tmp_path / "connectors",
        lake_root=lake_root,
        postgres_dsn=postgres_dsn,
        log=logging.getLogger("embedded-test"),
        progress_every=40,
        **options,
    )


@pytest.fixture
def lake_runner(tmp_path: Path, lake_root: str) -> EmbeddedAirbyteRunner:
    """A runner with no PostgreSQL: lake tests do not start one."""
    return make_runner(tmp_path, lake_root, None)


@pytest.fixture
def pg_runner(tmp_path: Path, lake_root: str, postgres_dsn: str) -> EmbeddedAirbyteRunner:
    return make_runner(tmp_path, lake_root, postgres_dsn)
