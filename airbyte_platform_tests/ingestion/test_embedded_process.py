"""Reading a connector subprocess: stdout lines of any length, and stderr drained without deadlock."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from filelock import FileLock

from airbyte_platform.core.catalog import CatalogError, parse_catalog
from airbyte_platform.ingestion.embedded import process
from airbyte_platform.ingestion.embedded.process import STDERR_TAIL_LINES, ConnectorProcess
from airbyte_platform.ingestion.embedded.runner import EmbeddedSyncError
from airbyte_platform_tests.ingestion.conftest import ITEMS, make_runner


def _run(tmp_path: Path, code: str) -> tuple[list[bytes], str, int]:
    with ConnectorProcess(
        [sys.executable, "-c", code], cwd=tmp_path, log=logging.getLogger("t"), label="t"
    ) as process:
        lines: list[bytes] = []
        for block in process.blocks():
            lines += bytes(block.lines).split(b"\n")[:-1]  # every block ends with a newline
            block.release()
        code_ = process.wait()
        return lines, process.stderr_tail(), code_


def test_lines_of_any_length_and_an_unterminated_last_line(tmp_path: Path):
    code = "import sys; sys.stdout.write('a' * 3_000_000 + '\\n' + 'b\\n\\nc')"

    lines, _, exit_code = _run(tmp_path, code)

    assert [len(line) for line in lines] == [3_000_000, 1, 0, 1]
    assert lines[1:] == [b"b", b"", b"c"] and exit_code == 0


def test_a_connector_flooding_stderr_does_not_block_and_its_tail_is_kept(tmp_path: Path):
    code = (
        "import sys\n"
        "for i in range(20000): sys.stderr.write(f'warning {i}\\n')\n"  # ~300 KB: more than a pipe holds
        'print(\'{"type": "LOG"}\')\n'
        "sys.exit(2)"
    )

    lines, tail, exit_code = _run(tmp_path, code)

    assert lines == [b'{"type": "LOG"}'] and exit_code == 2
    assert tail.splitlines() == [f"warning {i}" for i in range(20000 - STDERR_TAIL_LINES, 20000)]


# ------------------------------------------------------------------ the connector never outlives the runner

RUNNER = """
import logging, pickle, signal, sys
from pathlib import Path
# A plain script: SIGTERM's default action, whatever disposition the test worker passed down.
signal.signal(signal.SIGTERM, signal.SIG_DFL)
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner

connection, lake_root, config = pickle.loads(Path(sys.argv[1]).read_bytes())
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
EmbeddedAirbyteRunner(connectors_dir=Path(sys.argv[2]), lake_root=lake_root, postgres_dsn=None).sync(
    connection, config=config
)
"""


def _signal_masks(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return ", ".join(line for line in status if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _hanging_connector_pid(pid_file: Path) -> int:
    assert _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", 60), (
        "no connector started"
    )
    return int(pid_file.read_text())


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_connector_dies_with_the_runner_whatever_ends_it(fake_connection, tmp_path, ending):
    # The connector hangs after 5 records and ignores SIGTERM, as one blocked in a network call would.
    pid_file = tmp_path / "connector.pid"
    config = {"records": 100, "fail": {"mode": "hang", "after": 5}, "pid_file": str(pid_file)}
    arguments = tmp_path / "runner.pickle"
    arguments.write_bytes(pickle.dumps((fake_connection(streams=(ITEMS,)), str(tmp_path / "lake"), config)))
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(arguments), str(tmp_path / "connectors")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connector = None
    try:
        connector = _hanging_connector_pid(pid_file)
        assert os.getpgid(connector) == connector != os.getpgid(runner.pid)  # its own process group
        signals = _signal_masks(runner.pid)
        runner.send_signal(ending)
        try:
            runner.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the runner outlived {ending.name} by 30 s; its signal masks before: {signals}")

        assert _wait_for(lambda: not _alive(connector), 10), "the connector outlived the runner"
    finally:
        runner.kill()
        runner.wait()
        if connector is not None and _alive(connector):
            os.kill(connector, signal.SIGKILL)


def test_a_silent_connector_is_stopped_after_its_inactivity_timeout(
    fake_connection, lake_runner, tmp_path, monkeypatch
):
    monkeypatch.setattr(process, "TERMINATE_GRACE_SECONDS", 0.2)  # it ignores SIGTERM: SIGKILL follows
    pid_file = tmp_path / "connector.pid"
    connection = fake_connection(
        streams=(ITEMS,),
        config={"records": 100, "fail": {"mode": "hang", "after": 5}, "pid_file": str(pid_file)},
    )
    connection = replace(connection, local=replace(connection.local, inactivity_timeout_seconds=0.5))

    with pytest.raises(EmbeddedSyncError) as failure:
        lake_runner.sync(connection)

    message = str(failure.value)
    assert connection.local.connector in message and "stream 'items'" in message
    assert (
        "the connector wrote nothing for 0.5 s and was stopped (inactivity timeout: connections.yaml"
        in message
    )
    assert not _alive(int(pid_file.read_text()))


def test_inactivity_timeout_in_connections_yaml_is_validated():
    document = {
        "connections": [
            {
                "name": "c",
                "source": "s",
                "destination": "lake",
                "connection_id_variable": "AIRBYTE_STRIPE_S3_CONNECTION_ID",
                "local": {"connector": "sample:stripe", "inactivity_timeout_seconds": 0},
                "streams": [{"name": "charges"}],
            }
        ]
    }
    with pytest.raises(CatalogError, match=r"c: local.inactivity_timeout_seconds must be a positive number"):
        parse_catalog(document)
    document["connections"][0]["local"]["inactivity_timeout_seconds"] = 90
    assert parse_catalog(document)[0].local.inactivity_timeout_seconds == 90.0


# ------------------------------------------------------------------------- a sync waiting for another's lock


@pytest.mark.parametrize("destination", ["lake", "postgres"])
def test_a_sync_waiting_for_another_says_so_and_gives_up_after_its_lock_timeout(
    destination, fake_connection, tmp_path, lake_root, postgres_dsn, pg, caplog
):
    connection = fake_connection(destination, streams=(ITEMS,))
    runner = make_runner(tmp_path, lake_root, postgres_dsn, lock_timeout=0.3)
    runner.sync(connection)
    # Another sync of the stream holds its lock (here: this test, as that sync would).
    if destination == "lake":
        holder = FileLock(f"{lake_root}/airbyte/{connection.source}/items/.airbyte-sync.lock")
        holder.acquire()
        release = holder.release
    else:
        key = f"airbyte_sync:{connection.source}_raw.items"
        pg.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        release = lambda: pg.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])  # noqa: E731
    try:
        with (
            caplog.at_level(logging.WARNING, logger="embedded-test"),
            pytest.raises(EmbeddedSyncError) as failure,
        ):
            runner.sync(connection)
    finally:
        release()

    assert (
        "stream items: another sync of it is running" in caplog.text and "waiting up to 0.3 s" in caplog.text
    )
    assert "stream items: gave up after 0.3 s waiting for another sync of it to finish" in str(failure.value)
    [result] = runner.sync(connection)  # the lock is free again
    assert result.total_rows == 100
