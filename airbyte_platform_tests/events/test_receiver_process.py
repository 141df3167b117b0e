"""The receiver as a real process (`python -m airbyte_platform.events.receiver`) under hostile
conditions: its inbox database unreachable or turned read-only; oversized, idle, slow and numerous
clients; secrets in mistyped URLs. Raw sockets where a client library would tidy the request up.

No timing assertions: deadlines are set short (1-2 s) and the tests only wait for the outcome,
with generous socket timeouts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests

from airbyte_platform.events.inbox import IntakeKey, open_inbox

from .conftest import STRIPE_SECRET, database_unreachable, free_port, signed_headers, stripe_event

AIRBYTE_TOKEN = "proc-airbyte-token-7c1e55d0a9"


@dataclass
class ReceiverProcess:
    process: subprocess.Popen[bytes]
    port: int
    inbox_dsn: str
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
def launch(tmp_path: Path, pg_inbox_dsn: str) -> Iterator[Callable[..., ReceiverProcess]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> ReceiverProcess:
        port = free_port()
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
            "--inbox", pg_inbox_dsn, "--log-level", "info", *options,
        ]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        started.append(process)
        _wait_healthy(process, port, log)
        return ReceiverProcess(process, port, pg_inbox_dsn, log)

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
    """The inbox becomes read-only under a running receiver (a failover to a replica,
    `default_transaction_read_only`): /health and every POST answer 503, nothing is acknowledged,
    and once the database is writable again the sender's retry is stored."""
    receiver = launch()
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


def test_an_unreachable_inbox_fails_health_and_posts_never_2xx_then_recovers(launch):
    """The inbox database goes away under a running receiver (its server down, a network cut):
    /health and every POST answer 503, nothing is acknowledged; once it is back, the retry is stored."""
    receiver = launch()
    assert receiver.post_stripe("evt_before") == 200
    with database_unreachable(receiver.inbox_dsn):
        assert receiver.health() == 503
        assert [receiver.post_stripe(f"evt_during_{i}") for i in range(3)] == [503] * 3
        assert receiver.health() == 503
    deadline = time.monotonic() + 30
    while receiver.health() != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.post_stripe("evt_during_0") == 200  # the sender's retry
    with open_inbox(receiver.inbox_dsn) as inbox:
        assert inbox.event_ids() == ["evt_before", "evt_during_0"]
    assert "cannot connect to the webhook inbox (WEBHOOK_INBOX_DSN)" in receiver.log.read_text()


def test_a_receiver_whose_inbox_cannot_be_reached_at_start_refuses_to_start_saying_what_to_fix(tmp_path):
    """No /health that a POST would contradict: the process exits, naming the variable."""
    env = {
        **os.environ,
        "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"),
        "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
    }
    env.pop("AIRBYTE_PLATFORM_MODE", None)
    closed = free_port()  # nothing listens there
    process = subprocess.run(
        [sys.executable, "-m", "airbyte_platform.events.receiver", "--port", str(free_port()),
         "--inbox", f"postgresql://inbox:secret-pw@127.0.0.1:{closed}/webhooks"],
        env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    output = process.stdout.decode() + process.stderr.decode()
    assert process.returncode == 3, output
    assert "cannot connect to the webhook inbox (WEBHOOK_INBOX_DSN)" in output
    assert "secret-pw" not in output


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


def _counted(receiver: ReceiverProcess, key: IntakeKey) -> int:
    """The intake counter `key` once the receiver has flushed it (with the next event, or within a second)."""
    deadline = time.monotonic() + 15
    while True:
        with open_inbox(receiver.inbox_dsn) as inbox:
            count = inbox.intake_counts().get(key, 0)
        if count or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


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
    # refused below the application, and still counted in the intake metrics
    assert receiver.post_stripe("evt_after_431") == 200
    assert _counted(receiver, IntakeKey("stripe", "rejected", "head_too_large")) == 2


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
    with open_inbox(receiver.inbox_dsn) as inbox:
        assert inbox.event_ids() == []
    assert receiver.post_stripe("evt_after_slow_clients") == 200
    assert _counted(receiver, IntakeKey("stripe", "rejected", "head_timeout")) == 1
    assert (
        _counted(receiver, IntakeKey("stripe", "rejected", "body_timeout")) == 1
    )  # the idle one: not a request


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
