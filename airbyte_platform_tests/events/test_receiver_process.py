"""The receiver as a real process (`python -m airbyte_platform.events.receiver`) under hostile
conditions: its inbox deleted, locked or on a full disk; oversized, idle, slow and numerous
clients; secrets in mistyped URLs. Raw sockets where a client library would tidy the request up.

No timing assertions: deadlines are set short (1-2 s) and the tests only wait for the outcome,
with generous socket timeouts.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from airbyte_platform.events.inbox import open_inbox

from .conftest import STRIPE_SECRET, free_port, signed_headers, stripe_event

AIRBYTE_TOKEN = "proc-airbyte-token-7c1e55d0a9"


@dataclass
class ReceiverProcess:
    process: subprocess.Popen[bytes]
    port: int
    inbox: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> int:
        return requests.get(f"{self.url}/health", timeout=15).status_code

    def post_stripe(self, event_id: str, pad: int = 0) -> int:
        body = (
            stripe_event(event_id)
            if not pad
            else stripe_event(event_id)[:-1] + b', "pad": "' + b"x" * pad + b'"}'
        )
        return requests.post(
            f"{self.url}/webhooks/stripe", data=body, headers=signed_headers(body), timeout=60
        ).status_code

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=15)
        return sock


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"receiver not healthy within 60 s: {log.read_text()[-2000:]}")


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., ReceiverProcess]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        *options: str,
        inbox_dir: Path | None = None,
        inbox_dsn: str | None = None,
        wrapper: list[str] | None = None,
    ) -> ReceiverProcess:
        port = free_port()
        inbox = (inbox_dir or tmp_path / "inbox") / "inbox.sqlite3"
        log = tmp_path / f"receiver-{port}.log"
        env = {
            **os.environ,
            "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
            "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "AIRBYTE_WEBHOOK_TOKEN": AIRBYTE_TOKEN,
        }
        env.pop("AIRBYTE_PLATFORM_MODE", None)
        command = [
            sys.executable, "-m", "airbyte_platform.events.receiver", "--port", str(port),
            "--inbox", inbox_dsn or f"sqlite:///{inbox}", "--log-level", "info", *options,
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*(wrapper or []), *command], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        started.append(process)
        _wait_healthy(process, port, log)
        return ReceiverProcess(process, port, inbox, log)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# -- the inbox under the receiver ------------------------------------------------------------------
def test_a_postgres_inbox_turned_read_only_while_running_fails_health_and_posts_then_recovers(
    launch, pg_inbox_dsn
):
    """The production inbox becomes read-only under a running receiver (a failover to a replica,
    `default_transaction_read_only`): /health and every POST answer 503, nothing is acknowledged,
    and once the database is writable again the sender's retry is stored. (A read-only SQLite
    file cannot be simulated while it is open: the kernel refuses to remount a filesystem read-only
    while a process holds files on it open for writing; the SQLite case is covered at start-up.)"""
    receiver = launch(inbox_dsn=pg_inbox_dsn)
    assert receiver.post_stripe("evt_before_failover") == 200
    with psycopg.connect(pg_inbox_dsn, autocommit=True) as admin:
        database = admin.execute("SELECT current_database()").fetchone()[0]
        admin.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        try:
            admin.execute(  # the receiver's connections are cut, as in a failover
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert receiver.health() == 503
            assert receiver.post_stripe("evt_during_failover") == 503
            assert receiver.health() == 503  # stays unhealthy, not only the first probe
        finally:
            admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    deadline = time.monotonic() + 30
    while receiver.health() != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.health() == 200
    assert receiver.post_stripe("evt_during_failover") == 200  # Stripe's retry
    with open_inbox(pg_inbox_dsn) as inbox:
        assert sorted(inbox.event_ids()) == ["evt_before_failover", "evt_during_failover"]
    assert "read-only transaction" in receiver.log.read_text()


@pytest.mark.parametrize("how", ["deleted", "moved"])
def test_a_deleted_or_moved_inbox_makes_health_and_posts_fail_never_2xx(launch, tmp_path, how):
    receiver = launch()
    assert receiver.post_stripe("evt_before") == 200
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{receiver.inbox}{suffix}")
        if how == "deleted":
            path.unlink(missing_ok=True)
        elif path.exists():
            path.rename(tmp_path / f"moved{suffix}")
    assert receiver.health() == 503
    assert [receiver.post_stripe(f"evt_after_{i}") for i in range(3)] == [503] * 3
    assert "was deleted while the receiver ran" in receiver.log.read_text()


def test_a_lock_held_elsewhere_fails_health_and_a_waiting_post_is_stored_once_it_is_released(launch):
    receiver = launch()
    holder = sqlite3.connect(receiver.inbox, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert receiver.health() == 503
        outcome: list[int] = []
        sender = threading.Thread(target=lambda: outcome.append(receiver.post_stripe("evt_waited")))
        sender.start()
        time.sleep(0.5)  # let the POST reach the lock (not an assertion: it only has to be waiting)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    sender.join(60)
    assert outcome == [200]
    assert receiver.health() == 200
    with open_inbox(f"sqlite:///{receiver.inbox}") as inbox:
        assert inbox.event_ids() == ["evt_waited"]
    assert "database is locked" in receiver.log.read_text()


def _private_tmpfs_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || mount -t tmpfs -o size=64k tmpfs /tmp",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(
    not _private_tmpfs_available(), reason="needs a private mount namespace (unshare -m) for a small tmpfs"
)
def test_a_full_disk_fails_health_and_posts_and_the_log_names_the_disk(launch, tmp_path):
    """The inbox on a 1 MB tmpfs seen only by the receiver process (its own mount namespace)."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    wrapper = [
        "unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{mount_point}" && exec "$@"', "sh",
    ]  # fmt: skip
    receiver = launch(inbox_dir=mount_point, wrapper=wrapper)
    statuses = []
    for i in range(2000):  # ~2 KB events: the disk is full long before
        statuses.append(receiver.post_stripe(f"evt_fill_{i:04d}", pad=2000))
        if statuses[-1] != 200:
            break
    assert statuses[-1] == 503 and statuses[:-1] == [200] * (len(statuses) - 1)
    assert receiver.health() == 503
    assert receiver.post_stripe("evt_small") == 503
    log = receiver.log.read_text()
    assert "database or disk is full" in log
    assert "cannot rollback" not in log


# -- hostile clients ------------------------------------------------------------------------------
def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_or_too_many_headers_get_431_and_the_connection_is_closed(launch):
    receiver = launch()
    huge = receiver.connect()
    huge.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nX-Pad: ")
    sent = 0
    try:
        while sent < 64 * 1024 * 1024:  # a 64 MB header, as in the report; the server cuts it short
            huge.sendall(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_all(huge)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"exceed" in answer
    assert sent < 64 * 1024 * 1024  # refused while the header was still coming

    many = receiver.connect()
    headers = b"".join(b"X-H%d: 1\r\n" % i for i in range(200))
    many.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n" + headers + b"Content-Length: 0\r\n\r\n")
    assert _read_all(many).startswith(b"HTTP/1.1 431 ")
    assert receiver.health() == 200  # the receiver itself is unharmed


def test_idle_slow_header_and_slow_body_clients_are_cut_off(launch):
    receiver = launch("--head-timeout", "1", "--body-timeout", "1")
    idle = receiver.connect()  # connects, never sends a byte
    slow_head = receiver.connect()
    slow_head.sendall(b"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n")  # ... and the rest never comes
    slow_body = receiver.connect()
    body = stripe_event("evt_slow_body")
    head = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(body).items())
    slow_body.sendall(
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    assert _read_all(idle) == b""  # closed without an answer: it never asked anything
    assert _read_all(slow_head).startswith(b"HTTP/1.1 408 ")
    assert _read_all(slow_body).startswith(b"HTTP/1.1 408 ")
    with open_inbox(f"sqlite:///{receiver.inbox}") as inbox:
        assert inbox.event_ids() == []
    assert receiver.post_stripe("evt_after_slow_clients") == 200


def test_connections_beyond_the_limit_get_503_and_service_resumes_when_they_go(launch):
    receiver = launch("--max-connections", "4")
    held = [receiver.connect() for _ in range(4)]
    time.sleep(0.3)  # let the server accept them (no assertion rests on this)
    assert receiver.post_stripe("evt_crowded") == 503
    for sock in held:
        sock.close()
    deadline = time.monotonic() + 30
    while receiver.post_stripe("evt_after_crowd") != 200:
        assert time.monotonic() < deadline, "service did not resume after the connections closed"
        time.sleep(0.2)


def test_no_token_reaches_the_log_whatever_the_url(launch):
    receiver = launch()
    near_miss = AIRBYTE_TOKEN[:-1] + "x"
    shapes = [
        f"/webhooks/airbyte/{AIRBYTE_TOKEN}",
        f"/webhooks/airbyte/{AIRBYTE_TOKEN}/",
        f"/webhook/airbyte/{AIRBYTE_TOKEN}",  # mistyped prefix
        f"//webhooks/airbyte/{AIRBYTE_TOKEN}",
        f"/webhooks/airbyte//{AIRBYTE_TOKEN}",
        f"/webhooks/airbyte/{AIRBYTE_TOKEN}/extra",
        f"/webhooks/Airbyte/{AIRBYTE_TOKEN}",
        f"/webhooks/airbyte?token={AIRBYTE_TOKEN}",
        f"/webhooks/%61irbyte/{AIRBYTE_TOKEN}",
        f"/{AIRBYTE_TOKEN}",
        f"/webhooks/airbyte/{near_miss}",
    ]
    statuses = []
    for path in shapes:
        statuses.append(requests.post(f"{receiver.url}{path}", json={"text": "hi"}, timeout=10).status_code)
        statuses.append(requests.get(f"{receiver.url}{path}", timeout=10).status_code)
    assert 200 in statuses and 404 in statuses and 403 in statuses and 405 in statuses
    time.sleep(0.5)  # the access log lines reach the file
    log = receiver.log.read_text()
    for secret in (AIRBYTE_TOKEN, near_miss, AIRBYTE_TOKEN[:12]):
        assert secret not in log
    assert '"POST /webhooks/airbyte/*** HTTP/1.1" 200' in log  # the access log is on
    assert '"POST /***/airbyte/*** HTTP/1.1" 404' in log  # mistyped paths are logged, masked


@pytest.mark.skipif(not _private_tmpfs_available(), reason="needs a private mount namespace (unshare -m)")
def test_a_read_only_inbox_never_reports_healthy(tmp_path):
    """The inbox folder bind-mounted read-only for the receiver process only: it refuses to start,
    saying which inbox and which variable, instead of serving a /health that a POST contradicts."""
    folder = tmp_path / "inbox"
    with open_inbox(f"sqlite:///{folder / 'inbox.sqlite3'}") as inbox:
        inbox.ping()
    env = {**os.environ, "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")}
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    port = free_port()
    mount_read_only = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && exec "$@"'
    )
    process = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount_read_only, "sh", sys.executable, "-m", "airbyte_platform.events.receiver",
         "--port", str(port), "--inbox", f"sqlite:///{folder / 'inbox.sqlite3'}"],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    output = process.stdout.decode() + process.stderr.decode()
    assert process.returncode == 3, output
    assert (
        f"cannot open the webhook inbox {folder / 'inbox.sqlite3'}" in output
        and "WEBHOOK_INBOX_DSN" in output
    )
