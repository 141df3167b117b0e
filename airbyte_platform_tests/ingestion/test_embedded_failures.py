"""Every way a sync fails, each through a real connector subprocess: the error names the connection, the
connector and the stream, and the previous data and state stay exactly as they were."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airbyte_platform.core.catalog import ConnectionSpec, LocalStandIn
from airbyte_platform.core.lake import MANIFEST, lake_files, read_lake_table
from airbyte_platform.ingestion.embedded.postgres import read_state
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner, EmbeddedSyncError
from airbyte_platform_tests.ingestion.conftest import ITEMS, make_runner


def _snapshot(runner: EmbeddedAirbyteRunner, connection: ConnectionSpec, pg: Any, dsn: str) -> tuple:
    """Everything a reader or the next sync sees of `items`: its rows and committed state."""
    if connection.destination == "lake":
        location = f"{runner.lake_root}/airbyte/{connection.source}/items"
        manifest = (Path(location) / MANIFEST).read_bytes()
        return manifest, sorted(read_lake_table(location).column("id").to_pylist())
    schema = f"{connection.source}_raw"
    rows = pg.execute(f"SELECT id, updated_at FROM {schema}.items ORDER BY id").fetchall()
    return read_state(dsn, schema, connection.name, "items"), rows


@pytest.fixture(params=["lake", "postgres"])
def synced(request, fake_connection, pg_runner, pg, postgres_dsn):
    """A connection to `lake` or `postgres` with one good sync behind it, and a snapshot of it."""
    connection = fake_connection(request.param, streams=(ITEMS,))
    pg_runner.sync(connection)
    return connection, lambda: _snapshot(pg_runner, connection, pg, postgres_dsn)


def test_crash_mid_stream_keeps_previous_data_and_state(synced, pg_runner):
    connection, snapshot = synced
    before = snapshot()

    with pytest.raises(EmbeddedSyncError) as failure:
        pg_runner.sync(connection, config={"records": 500, "fail": {"mode": "crash", "after": 50}})

    message = str(failure.value)
    assert f"connection {connection.name!r}" in message and connection.local.connector in message
    assert "stream 'items'" in message
    assert "the connector exited with code 3" in message
    assert "RuntimeError: boom while reading" in message  # the tail of its stderr
    assert snapshot() == before
    # The next sync starts from the old state and publishes everything once.
    [result] = pg_runner.sync(connection, config={"records": 150})
    assert (result.records_synced, result.total_rows) == (50, 150)


def test_malformed_line_fails_fast_and_stops_the_connector(fake_connection, lake_runner, tmp_path):
    pid_file = tmp_path / "connector.pid"
    connection = fake_connection(
        streams=(ITEMS,),
        config={"records": 100, "fail": {"mode": "malformed", "after": 20}, "pid_file": str(pid_file)},
    )

    with pytest.raises(EmbeddedSyncError, match=r"stream 'items': malformed line \d+ on stdout \(not JSON\)"):
        lake_runner.sync(connection)

    # The connector sleeps 30 s after the bad line, then leaves a marker: it was stopped, not awaited.
    assert pid_file.exists() and not Path(f"{pid_file}.survived").exists()
    assert not Path(f"/proc/{pid_file.read_text()}").exists()
    assert lake_files(f"{lake_runner.lake_root}/airbyte/{connection.source}/items") == []


def test_trace_error_fails_with_the_connector_message(fake_connection, lake_runner):
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 100, "fail": {"mode": "trace", "after": 10}}
    )

    with pytest.raises(EmbeddedSyncError) as failure:
        lake_runner.sync(connection)

    assert (
        "stream 'items': the connector reported an error: The API answered 401 Unauthorized (HTTPError 401)"
        in str(failure.value)
    )


def test_stderr_only_death_reports_the_signal_and_stderr(fake_connection, lake_runner):
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 100, "fail": {"mode": "stderr_death", "after": 30}}
    )

    with pytest.raises(EmbeddedSyncError) as failure:
        lake_runner.sync(connection)

    message = str(failure.value)
    assert "stream 'items': the connector was killed by signal 9" in message
    assert "fatal: killed by the out-of-memory killer" in message


def test_record_of_an_unselected_stream_fails(fake_connection, lake_runner):
    connection = fake_connection(
        streams=(ITEMS,), config={"records": 100, "fail": {"mode": "unselected_stream", "after": 5}}
    )
    with pytest.raises(EmbeddedSyncError, match="a record of stream 'ghosts', which was not selected"):
        lake_runner.sync(connection)


def test_failed_check_and_invalid_config_are_reported_before_reading(fake_connection, lake_runner):
    failing_check = fake_connection(streams=(ITEMS,), config={"records": 10, "check_fails": True})
    with pytest.raises(EmbeddedSyncError, match=r"streams items: check failed: bad api key"):
        lake_runner.sync(failing_check)

    invalid = fake_connection(streams=(ITEMS,), config={"records": "many", "delay": "slow"})
    with pytest.raises(EmbeddedSyncError) as failure:
        lake_runner.sync(invalid)
    message = str(failure.value)
    assert "invalid connector config" in message
    assert (
        "delay: 'slow' is not of type 'number'" in message
        and "records: 'many' is not of type 'integer'" in message
    )


def test_unknown_connector_reference_is_reported(fake_connection, lake_runner):
    connection = fake_connection(streams=(ITEMS,))
    broken = replace(connection, local=LocalStandIn(connector="docker:source-x"))
    with pytest.raises(EmbeddedSyncError, match=r"unknown scheme 'docker'"):
        lake_runner.sync(broken)


# ----------------------------------------------------------------------------- a runner killed mid-sync

KILLED_RUNNER = """
import logging, pickle, sys
from pathlib import Path
from airbyte_platform.ingestion.embedded import lake, postgres, read_loop
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner

# Small batches, so data is staged (Parquet files, COPYs) long before the sync could publish.
read_loop.BATCH_ROWS, lake.ROW_GROUP_ROWS, postgres.COPY_ROWS = 10, 20, 20
connection, lake_root, dsn = pickle.loads(Path(sys.argv[1]).read_bytes())
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
runner = EmbeddedAirbyteRunner(connectors_dir=Path(sys.argv[2]), lake_root=lake_root, postgres_dsn=dsn, progress_every=20)
runner.sync(connection, config={"records": 2000, "delay": 0.005})
"""


def _staged_data(runner: EmbeddedAirbyteRunner, connection: ConnectionSpec, pg: Any) -> int:
    """How much the unfinished sync has staged where readers cannot see it: files, or staging rows."""
    if connection.destination == "lake":
        folder = Path(runner.lake_root) / "airbyte" / connection.source / "items"
        listed = (folder / MANIFEST).read_text()
        return sum(1 for path in folder.glob("part-*.parquet") if path.name not in listed)
    schema = f"{connection.source}_raw"
    tables = pg.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE '\\_airbyte\\_tmp\\_%%'",
        [schema],
    ).fetchall()
    return sum(pg.execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()[0] for (name,) in tables)


def test_sigkill_of_the_runner_mid_sync_leaves_previous_data_and_state(
    synced, pg_runner, pg, postgres_dsn, tmp_path
):
    connection, snapshot = synced
    before = snapshot()
    arguments = tmp_path / "child.pickle"
    arguments.write_bytes(pickle.dumps((connection, pg_runner.lake_root, postgres_dsn)))

    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUNNER, str(arguments), str(tmp_path / "connectors")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # generous: the child imports Dagster first
        while _staged_data(pg_runner, connection, pg) == 0:
            assert child.poll() is None, child.stdout.read() if child.stdout else ""
            assert time.monotonic() < deadline, "the child sync staged nothing within 60 s"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()

    assert child.returncode == -signal.SIGKILL
    assert snapshot() == before
    [result] = pg_runner.sync(connection, config={"records": 150})  # locks were released with the process
    assert (result.records_synced, result.total_rows) == (50, 150)
    assert _staged_data(pg_runner, connection, pg) == 0  # leftovers of the killed sync are cleaned up


@pytest.mark.parametrize(
    ("stream", "problem"),
    [
        (
            replace(ITEMS, name="ghosts"),
            r"stream 'ghosts': the connector does not offer it \(it offers events, items\)",
        ),
        (
            replace(ITEMS, primary_key=("uuid",)),
            r"stream 'items': primary key \['uuid'\] not in the discovered schema",
        ),
        (
            replace(ITEMS, cursor_field="modified"),
            r"stream 'items': cursor field \['modified'\] not in the discovered schema",
        ),
    ],
)
def test_declarations_that_do_not_match_the_connector_are_reported(
    fake_connection, lake_runner, stream, problem
):
    with pytest.raises(EmbeddedSyncError, match=problem):
        lake_runner.sync(fake_connection(streams=(stream,)))


def test_unreachable_or_missing_postgres_is_reported(fake_connection, tmp_path, lake_root):
    connection = fake_connection("postgres", streams=(ITEMS,))

    with pytest.raises(EmbeddedSyncError, match="writes to PostgreSQL but the runner has no postgres_dsn"):
        make_runner(tmp_path, lake_root, None).sync(connection)
    unreachable = make_runner(
        tmp_path, lake_root, "postgresql://airbyte@127.0.0.1:9/analytics?connect_timeout=2"
    )
    with pytest.raises(EmbeddedSyncError, match="cannot connect to the destination PostgreSQL"):
        unreachable.sync(connection)


def test_destination_connection_lost_mid_sync_fails_clearly_and_loses_nothing(
    fake_connection, pg_runner, pg, postgres_dsn
):
    # The destination fails while the connector is still reading: the error reaches the sync (from the
    # background writer), the connector is stopped, and the published rows and state are untouched.
    connection = fake_connection("postgres", streams=(ITEMS,))
    pg_runner.sync(connection)
    before = _snapshot(pg_runner, connection, pg, postgres_dsn)
    failure: list[BaseException] = []

    def sync() -> None:
        try:
            pg_runner.sync(connection, config={"records": 20_000, "delay": 0.0005, "state_every": 500})
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=sync)
    worker.start()
    deadline = time.monotonic() + 60
    while _staged_data(pg_runner, connection, pg) == 0:
        assert worker.is_alive(), failure
        assert time.monotonic() < deadline, "the sync staged nothing within 60 s"
        time.sleep(0.05)
    terminated = pg.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'airbyte_platform sync'"
    ).fetchone()[0]
    worker.join(timeout=60)

    assert terminated >= 1 and not worker.is_alive()
    assert len(failure) == 1 and isinstance(failure[0], EmbeddedSyncError), failure
    message = str(failure[0])
    assert f"connection {connection.name!r}" in message and "destination postgres" in message
    # PostgreSQL's own reason, not a generic failure: the server's notice, or libpq's when the socket
    # closed before the notice was read (which one depends on timing).
    assert "terminating connection" in message or "server closed the connection unexpectedly" in message
    assert _snapshot(pg_runner, connection, pg, postgres_dsn) == before
    [result] = pg_runner.sync(connection, config={"records": 150})
    assert (result.records_synced, result.total_rows) == (50, 150)
