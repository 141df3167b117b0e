"""Fixtures of the operations tests: real runs of the local code location on a real instance."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from pgserver._commands import pg_ctl

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.definitions import build_definitions
from airbyte_platform.ingestion.embedded_resource import EmbeddedAirbyteResource
from airbyte_platform.local_services.postgres import local_postgres
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.operations.loopback import HttpStandIn, SmtpServer


@pytest.fixture(scope="session")
def platform_homes() -> Iterator[Path]:
    """A folder for platform homes, outside pytest's basetemp.

    Each home starts its own pgserver: as root, pgserver runs PostgreSQL as its own user, which
    cannot enter /tmp/pytest-of-root (0700). Every server started under it is stopped at the end.
    """
    root = Path(tempfile.mkdtemp(prefix="operations-homes-"))
    root.chmod(0o755)
    yield root
    for pgdata in root.glob("*/postgres"):
        if (pgdata / "postmaster.pid").exists():
            server = local_postgres(pgdata)
            # pg_ctl directly: pgserver's cleanup() stops a server only from its last handle holder.
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
    shutil.rmtree(root, ignore_errors=True)


def new_home(root: Path) -> Path:
    home = Path(tempfile.mkdtemp(dir=root))
    home.chmod(0o755)
    return home


@pytest.fixture(scope="session")
def finished_runs(platform_homes: Path) -> Iterator[tuple[dg.DagsterInstance, Path, str, str]]:
    """(instance, platform home, succeeded run id, failed run id): two real syncs of stripe_to_s3.

    The failed one comes second (20 records: its blocking min_records checks fail), so it holds the
    latest materializations and check results.
    """
    home = new_home(platform_homes)
    with dg.instance_for_test() as instance:
        ok = lake_sync_run(new_home(platform_homes), instance, records=300)
        failed = lake_sync_run(home, instance, records=20)
        assert ok.success and not failed.success
        yield instance, home, ok.run_id, failed.run_id


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A real instance (SQLite storage in a temp DAGSTER_HOME), as the sensors and exporter see it."""
    with dg.instance_for_test() as instance:
        yield instance


def lake_sync_run(
    home: Path,
    instance: dg.DagsterInstance,
    records: int = 300,
    env: dict[str, str] | None = None,
    fail_after: int | None = None,
) -> dg.ExecuteInProcessResult:
    """Sync `stripe_to_s3` (embedded runner, sample Stripe source) into the local lake, in process.

    `records` below the streams' minimum (100) fails the blocking min_records checks, so the run fails.
    `fail_after`: the source crashes after that many records, like a broken connector (nothing is
    materialized).
    """
    # Connector virtualenvs are shared by every home of the session: installing one takes seconds.
    connectors = home.parent / "connectors"
    defs = build_definitions(
        load_settings(
            {"AIRBYTE_PLATFORM_HOME": str(home), "AIRBYTE_CONNECTORS_DIR": str(connectors), **(env or {})}
        )
    )
    airbyte = defs.resources["airbyte"]
    assert isinstance(airbyte, EmbeddedAirbyteResource)
    overrides = {"records": records, **({"fail_after": fail_after} if fail_after is not None else {})}
    patched = airbyte.model_copy(update={"source_config_overrides": {"stripe_to_s3": overrides}})
    connection = connection_named("stripe_to_s3")
    job = dg.define_asset_job(
        "sync_stripe_to_s3", selection=[connection.asset_key(stream) for stream in connection.streams]
    )
    defs = dg.Definitions.merge(
        dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=[job]),
        dg.Definitions(resources={**(defs.resources or {}), "airbyte": patched}),
    )
    return defs.resolve_job_def("sync_stripe_to_s3").execute_in_process(
        instance=instance, raise_on_error=False
    )


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def slack_api() -> Iterator[HttpStandIn]:
    with HttpStandIn() as server:
        yield server


@pytest.fixture
def webhook_endpoint() -> Iterator[HttpStandIn]:
    with HttpStandIn() as server:
        yield server
