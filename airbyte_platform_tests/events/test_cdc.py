"""CDC checks against a real PostgreSQL with logical replication and a pgoutput slot."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from airbyte_platform.events.cdc import CDC_CONNECTION, CdcSourceResource, cdc_checks


def _evaluate(resource: CdcSourceResource) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    defs = dg.Definitions(asset_checks=[cdc_checks], resources={"cdc_source": resource})
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def pg_dir():
    # pgserver runs PostgreSQL as its own system user when we are root: pytest's 0700 tmp_path is
    # out of its reach, so use a world-traversable folder.
    folder = Path(tempfile.mkdtemp(prefix="cdc_"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_slot_health_and_lag_move_with_real_writes(pg_dir):
    resource = CdcSourceResource(local_pgdata=str(pg_dir / "pg"), max_lag_bytes=64 * 1024)
    uri = resource.uri()
    status = resource.slot_status()
    assert status.exists and status.wal_status in ("reserved", "extended")
    start_lag = status.lag_bytes

    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("CREATE TABLE users (id serial primary key, payload text)")
        connection.execute(
            "INSERT INTO users (payload) SELECT repeat('x', 200) FROM generate_series(1, 2000)"
        )
    behind = resource.slot_status()
    assert behind.lag_bytes > max(start_lag, 64 * 1024)

    key = CDC_CONNECTION.asset_key("users").to_user_string()
    evaluations = _evaluate(resource)
    assert evaluations[(key, "check_cdc_health")].passed
    lag = evaluations[(key, "check_replication_lag")]
    assert not lag.passed
    assert "'airbyte_slot' is" in (lag.description or "") and "bytes of WAL behind" in (lag.description or "")

    with psycopg.connect(uri, autocommit=True) as connection:  # a consumer catches up
        connection.execute("SELECT pg_replication_slot_advance('airbyte_slot', pg_current_wal_lsn())")
    assert resource.slot_status().lag_bytes < 64 * 1024
    assert _evaluate(resource)[(key, "check_replication_lag")].passed


def test_missing_slot_fails_health_with_its_name(pg_dir):
    uri = CdcSourceResource(local_pgdata=str(pg_dir / "pg")).uri()  # creates the slot
    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("SELECT pg_drop_replication_slot('airbyte_slot')")
    missing = CdcSourceResource(dsn=uri, slot_name="airbyte_slot")
    health = _evaluate(missing)[(CDC_CONNECTION.asset_key("users").to_user_string(), "check_cdc_health")]
    assert not health.passed
    assert "replication slot 'airbyte_slot' does not exist" in (health.description or "")
