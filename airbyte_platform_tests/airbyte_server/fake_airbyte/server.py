"""The fake Airbyte server over HTTP: loopback only, threaded, with auth, faults and recording.

Paths: the public API under `/api/public/v1` (self-managed) and `/v1` (Cloud), the config API
under `/api/v1`, tokens at `<public prefix>/applications/token`, and an admin API under
`/__admin` (request counts, job plans and history, faults) for benchmarks that run the server in
another process. The standard library's threaded HTTP server is used rather than uvicorn because
a fault must be able to drop the TCP connection before or after the request is processed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airbyte_platform_tests.airbyte_server.fake_airbyte.admin import AdminApi
from airbyte_platform_tests.airbyte_server.fake_airbyte.api import (
    ApiResponse,
    ConfigApi,
    PublicApi,
    Request,
    problem,
)
from airbyte_platform_tests.airbyte_server.fake_airbyte.faults import Fault, FaultInjector
from airbyte_platform_tests.airbyte_server.fake_airbyte.state import FakeAirbyteState

PUBLIC_PREFIXES = ("/api/public/v1", "/v1")
CONFIG_PREFIX = "/api/v1"
ADMIN_PREFIX = "/__admin"


@dataclass(frozen=True)
class Exchange:
    """One request and its response, recorded for contract validation in the tests."""

    api: str  # public | config | token
    base_url: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes
    status: int
    response_body: bytes
    response_headers: dict[str, str]
    fault: str | None = None  # an injected fault: the response is deliberately off-contract


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    app: FakeAirbyteServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.app.dispatch(self)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeAirbyteServer:
    def __init__(
        self,
        state: FakeAirbyteState | None = None,
        *,
        username: str | None = "airbyte",
        password: str | None = "password",
        client_id: str | None = "dagster-client",
        client_secret: str | None = "client-secret",
        token_ttl_seconds: float = 180.0,
        record: bool = False,
        seed: int = 0,
        port: int = 0,
    ):
        self.state = state or FakeAirbyteState()
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl_seconds = token_ttl_seconds
        self.tokens: dict[str, float] = {}
        self.faults = FaultInjector(seed)
        self.record = record
        self.exchanges: list[Exchange] = []
        self.requests: Counter[str] = Counter()
        self.job_polls: Counter[int] = Counter()  # GET /jobs/{id} per job: polls, whoever the client
        self._counter_lock = threading.Lock()
        self.public = PublicApi(self.state)
        self.config = ConfigApi(self.state)
        self.admin = AdminApi(self)
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def public_api_url(self) -> str:
        return f"{self.url}/api/public/v1"

    @property
    def config_api_url(self) -> str:
        return f"{self.url}/api/v1"

    def start(self) -> FakeAirbyteServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeAirbyteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- counters ----------------------------------------------------------------------------
    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def statuses(self, route: str) -> list[int]:
        """Statuses answered on `route` (e.g. "POST /jobs"), in order; 0 for a dropped connection."""
        return [e.status for e in self.exchanges if self._route_key(e.api, e.method, e.path) == route]

    def reset_counts(self) -> None:
        with self._counter_lock:
            self.requests.clear()
            self.job_polls.clear()
            self.exchanges.clear()

    # --- HTTP ----------------------------------------------------------------------------------
    def dispatch(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        query = parse_qs(parts.query, keep_blank_values=True)
        api, prefix, path = _classify(parts.path)
        if api == "admin":
            self._write(handler, self.admin.handle(handler.command, path, _json(raw), query))
            return

        key = self._route_key(api, handler.command, path)
        with self._counter_lock:
            self.requests[key] += 1
            if key == "GET /jobs/{id}":
                self.job_polls[int(path.rsplit("/", 1)[1])] += 1
        fault = self.faults.pick(handler.command, path) if api != "unknown" else None
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.latency)
        dropped = fault is not None and fault.kind in ("drop_before", "drop_after")
        response = None
        if fault is None or fault.kind != "drop_before":
            response = self._respond(handler, api, prefix, path, query, raw, fault)
        # Recorded before answering, so a test reading `exchanges` after its call sees it.
        if self.record and api in ("public", "config", "token"):
            self._record(handler, api, prefix, path, parts.query, raw, None if dropped else response, fault)
        if dropped:
            handler.close_connection = True
            _abort(handler)
        elif response is not None:
            self._write(handler, response)

    def _respond(
        self,
        handler: _Handler,
        api: str,
        prefix: str,
        path: str,
        query: dict[str, list[str]],
        raw: bytes,
        fault: Fault | None,
    ) -> ApiResponse:
        if fault is not None and fault.kind == "html":
            return ApiResponse(
                200, headers={"Content-Type": "text/html"}, raw=b"<html><body>Sign in</body></html>"
            )
        if fault is not None and fault.kind == "status":
            response = problem(fault.status, f"injected fault {fault.status}")
            if fault.retry_after is not None:
                response.headers["Retry-After"] = f"{fault.retry_after:g}"
            return response
        if api == "token":
            return self._issue_token(_json(raw))
        if api == "unknown":
            return problem(404, f"no API at {prefix}{path}")
        if not self._authorized(handler.headers.get("Authorization")):
            return problem(401, "Unauthorized: invalid credentials or expired token")
        request = Request(
            method=handler.command,
            path=path,
            query=query,
            body=_json(raw),
            base_url=f"{self.url}{prefix}",
        )
        with self.state.lock:
            return (self.public if api == "public" else self.config).handle(request)

    def _route_key(self, api: str, method: str, path: str) -> str:
        if api == "public":
            return self.public.route_key(method, path)
        if api == "config":
            return self.config.route_key(method, path)
        return f"{api} {method} {path}"

    def _authorized(self, header: str | None) -> bool:
        if header is None:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic" and self.username is not None:
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.username, self.password)
        if scheme.lower() == "bearer":
            expires = self.tokens.get(value)
            return expires is not None and expires > time.time()
        return False

    def _issue_token(self, body: Any) -> ApiResponse:
        body = body if isinstance(body, dict) else {}
        if self.client_id is None or (body.get("client_id"), body.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return problem(401, "invalid client_id or client_secret")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.token_ttl_seconds
        return ApiResponse(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_ttl_seconds)}
        )

    def _write(self, handler: _Handler, response: ApiResponse) -> None:
        payload = response.raw if response.raw is not None else _payload(response)
        handler.send_response(response.status)
        if response.body is not None and "Content-Type" not in response.headers:
            handler.send_header("Content-Type", "application/json")
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _record(
        self,
        handler: _Handler,
        api: str,
        prefix: str,
        path: str,
        raw_query: str,
        raw: bytes,
        response: ApiResponse | None,
        fault: Fault | None,
    ) -> None:
        """Record the exchange; `response` is None when the connection was dropped."""
        response = response or ApiResponse(0)
        exchange = Exchange(
            api=api,
            base_url=f"{self.url}{prefix}",
            method=handler.command,
            path=path,
            query=tuple((k, v) for k, vs in parse_qs(raw_query, keep_blank_values=True).items() for v in vs),
            headers={k: v for k, v in handler.headers.items()},
            body=raw,
            status=response.status,
            response_body=response.raw if response.raw is not None else _payload(response),
            response_headers=dict(response.headers),
            fault=None if fault is None or fault.kind == "latency" else fault.kind,
        )
        with self._counter_lock:
            self.exchanges.append(exchange)


def _classify(path: str) -> tuple[str, str, str]:
    """(api, prefix, route path) of a request path."""
    if path.startswith(ADMIN_PREFIX):
        return "admin", ADMIN_PREFIX, path[len(ADMIN_PREFIX) :] or "/"
    if path.startswith(CONFIG_PREFIX + "/"):
        return "config", CONFIG_PREFIX, path[len(CONFIG_PREFIX) :]
    for prefix in PUBLIC_PREFIXES:
        if path.startswith(prefix + "/"):
            route = path[len(prefix) :]
            return ("token" if route == "/applications/token" else "public"), prefix, route
    return "unknown", "", path


def _payload(response: ApiResponse) -> bytes:
    return b"" if response.body is None else json.dumps(response.body).encode()


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _abort(handler: _Handler) -> None:
    """Reset the connection so the client sees it dropped mid-request (no response at all)."""
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)
