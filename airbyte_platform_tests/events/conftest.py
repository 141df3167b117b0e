"""Fixtures of the events tests: a receiver on a loopback port (its inbox on the worker's PostgreSQL),
a loopback Airbyte API for job confirmations, and a Dagster instance."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
import requests
import uvicorn
from psycopg.conninfo import make_conninfo

from airbyte_platform.events.inbox import Inbox, open_inbox
from airbyte_platform.events.receiver import ReceiverConfig, build_receiver_app
from airbyte_platform.events.receiver.server import server_config
from airbyte_platform.events.stripe_signature import stripe_signature_header
from airbyte_platform.events.webhook_secrets import WebhookSecrets
from airbyte_platform.settings import Settings, load_settings
from airbyte_platform_tests.ports import free_port

STRIPE_SECRET = "whsec_test_events_secret"
AIRBYTE_TOKEN = "airbyte-path-token-for-tests"
TRIGGER_TOKEN = "trigger-token-for-tests"
TEST_SECRETS = WebhookSecrets(
    stripe_secrets=(STRIPE_SECRET,), airbyte_token=AIRBYTE_TOKEN, trigger_token=TRIGGER_TOKEN
)


def stripe_event(event_id: str, event_type: str = "charge.succeeded") -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": event_type, "data": {"object": {}}}
    ).encode()


def signed_headers(body: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None) -> dict[str, str]:
    return {
        "Stripe-Signature": stripe_signature_header(body, secret, timestamp),
        "Content-Type": "application/json",
    }


def airbyte_notification(
    job_id: int, connection_id: str, success: bool = True, **extra: Any
) -> dict[str, Any]:
    data = {
        "workspace": {"id": "ws", "name": "Workspace", "url": "http://airbyte/ws"},
        "connection": {"id": connection_id, "name": connection_id, "url": "http://airbyte/c"},
        "jobId": job_id,
        "startedAt": "2026-11-01T00:00:00Z",
        "finishedAt": "2026-11-01T00:05:00Z",
        "recordsCommitted": 1234,
        "bytesCommitted": 56789,
        "success": success,
        **extra,
    }
    return {"data": data}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local-mode settings in a temporary home (connection ids are the connection names)."""
    return load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path / "home")})


@pytest.fixture(scope="session")
def session_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:  # a real (SQLite) instance; creating one takes seconds
        yield test_instance


@pytest.fixture
def instance(session_instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """The session's instance, emptied of runs and events so each test starts from nothing."""
    session_instance.wipe()
    return session_instance


# (The worker's PostgreSQL, `pg_inbox_dsn` and `cdc_source_uri`: airbyte_platform_tests/conftest.py.)
@contextlib.contextmanager
def database_unreachable(dsn: str) -> Iterator[None]:
    """The inbox database refuses every connection (as when its server is down) until the block ends:
    connections are disallowed and the open ones cut, from an admin connection to `postgres`."""
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as admin:
        database = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
            )
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


# -- receiver on a loopback port ------------------------------------------------------------------
@dataclass
class RunningReceiver:
    url: str
    inbox_dsn: str
    config: ReceiverConfig
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(f"{self.url}{path}", timeout=10, **kwargs)

    def post_stripe(self, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        return self.post(
            "/webhooks/stripe", data=body, headers=signed_headers(body) if headers is None else headers
        )

    def stored(self) -> list[str]:
        with open_inbox(self.inbox_dsn) as inbox:
            return inbox.event_ids()


def serve_in_thread(
    app: Any, port: int, config: ReceiverConfig | None = None
) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve `app` on a loopback port; with the receiver's HTTP limits when `config` is given."""
    if config is not None:
        uvicorn_config = server_config(app, config, host="127.0.0.1", port=port, log_level="warning")
    else:
        uvicorn_config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(uvicorn_config)
    thread = threading.Thread(target=server.run, name=f"receiver-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"receiver did not start on port {port}")
        time.sleep(0.02)
    return server, thread


@pytest.fixture
def start_receiver(settings: Settings) -> Iterator[Callable[..., RunningReceiver]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(inbox_dsn: str, inbox: Inbox | None = None, max_body_bytes: int = 64 * 1024) -> RunningReceiver:
        config = ReceiverConfig(
            settings=settings, secrets=TEST_SECRETS, inbox_dsn=inbox_dsn, max_body_bytes=max_body_bytes
        )
        port = free_port()
        servers.append(serve_in_thread(build_receiver_app(config, inbox), port, config))
        return RunningReceiver(url=f"http://127.0.0.1:{port}", inbox_dsn=inbox_dsn, config=config)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def receiver(start_receiver: Callable[..., RunningReceiver], pg_inbox_dsn: str) -> RunningReceiver:
    return start_receiver(pg_inbox_dsn)


# -- a loopback Airbyte public API (GET /jobs/{id}) -----------------------------------------------
@dataclass
class FakeAirbyteApi:
    base_url: str
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    failing: bool = False  # answer 503 to everything
    calls: list[str] = field(default_factory=list)

    def add_job(self, job_id: int, connection_id: str, status: str = "succeeded", rows: int = 4321) -> None:
        self.jobs[job_id] = {
            "jobId": job_id,
            "status": status,
            "jobType": "sync",
            "startTime": "2026-11-01T00:00:00Z",
            "connectionId": connection_id,
            "rowsSynced": rows,
            "bytesSynced": rows * 100,
            "duration": "PT5M",
        }


@pytest.fixture
def fake_airbyte_api() -> Iterator[FakeAirbyteApi]:
    state = FakeAirbyteApi(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.calls.append(self.path)
            prefix = "/api/public/v1/jobs/"
            if state.failing:
                self._answer(503, {"message": "unavailable"})
            elif self.path.startswith(prefix) and self.path[len(prefix) :].isdigit():
                job = state.jobs.get(int(self.path[len(prefix) :]))
                if job is None:
                    self._answer(404, {"message": "Job not found"})
                else:
                    self._answer(200, job)
            else:
                self._answer(404, {"message": "no route"})

        def _answer(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/api/public/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
