"""Routes of the fake server: Airbyte's public API (the contract, public-api.openapi.yaml) and the
two config-API calls dagster-airbyte 0.29 makes (`connections/get`, `jobs/get`).

Pure request -> response functions over `FakeAirbyteState`; HTTP, auth and faults live in server.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from airbyte_platform_tests.airbyte_server.fake_airbyte.state import (
    ACTIVE_STATUSES,
    JOB_TYPES,
    Conflict,
    FakeAirbyteState,
    NotFound,
)

MAX_PAGE = 100
Query = Mapping[str, Sequence[str]]


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON payload (e.g. a proxy's HTML page)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # route path without the API prefix, e.g. /jobs/12
    query: Query
    body: Any
    base_url: str  # e.g. http://127.0.0.1:8123/api/public/v1, for `next` links


def problem(status: int, detail: str) -> ApiResponse:
    titles = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 409: "conflict"}
    return ApiResponse(
        status,
        {
            "type": f"https://reference.airbyte.com/reference/errors#{titles.get(status, 'error')}",
            "title": titles.get(status, "error"),
            "status": status,
            "detail": detail,
        },
    )


def _first(query: Query, name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[0] if values else default


def _page(request: Request, items: list[dict[str, Any]]) -> ApiResponse:
    try:
        limit = int(_first(request.query, "limit", "20") or 20)
        offset = int(_first(request.query, "offset", "0") or 0)
    except ValueError:
        return problem(400, "limit and offset must be integers")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        return problem(400, f"limit must be between 1 and {MAX_PAGE}, offset at least 0")
    body: dict[str, Any] = {"data": items[offset : offset + limit]}
    if offset + limit < len(items):
        body["next"] = _link(request, limit, offset + limit)
    if offset > 0:
        body["previous"] = _link(request, limit, max(offset - limit, 0))
    return ApiResponse(200, body)


def _link(request: Request, limit: int, offset: int) -> str:
    params = [(k, v) for k, values in request.query.items() if k not in ("limit", "offset") for v in values]
    params += [("limit", str(limit)), ("offset", str(offset))]
    return f"{request.base_url}{request.path}?{urlencode(params)}"


def _workspace_filter(request: Request) -> set[str] | None:
    ids = {v for value in request.query.get("workspaceIds", ()) for v in value.split(",") if v}
    return ids or None


class PublicApi:
    """`/api/public/v1` (self-managed) and `/v1` (Cloud)."""

    def __init__(self, state: FakeAirbyteState):
        self.state = state
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., ApiResponse], str]] = [
            ("GET", re.compile(r"/health"), self.health, "GET /health"),
            ("GET", re.compile(r"/workspaces"), self.list_workspaces, "GET /workspaces"),
            ("GET", re.compile(r"/workspaces/([^/]+)"), self.get_workspace, "GET /workspaces/{id}"),
            ("GET", re.compile(r"/connections"), self.list_connections, "GET /connections"),
            ("GET", re.compile(r"/connections/([^/]+)"), self.get_connection, "GET /connections/{id}"),
            ("GET", re.compile(r"/destinations"), self.list_destinations, "GET /destinations"),
            ("GET", re.compile(r"/destinations/([^/]+)"), self.get_destination, "GET /destinations/{id}"),
            ("GET", re.compile(r"/sources"), self.list_sources, "GET /sources"),
            ("GET", re.compile(r"/sources/([^/]+)"), self.get_source, "GET /sources/{id}"),
            ("GET", re.compile(r"/jobs"), self.list_jobs, "GET /jobs"),
            ("POST", re.compile(r"/jobs"), self.create_job, "POST /jobs"),
            ("GET", re.compile(r"/jobs/(\d+)"), self.get_job, "GET /jobs/{id}"),
            ("DELETE", re.compile(r"/jobs/(\d+)"), self.cancel_job, "DELETE /jobs/{id}"),
        ]

    def route_key(self, method: str, path: str) -> str:
        for route_method, pattern, _, key in self.routes:
            if route_method == method and pattern.fullmatch(path):
                return key
        return f"{method} {path}"

    def handle(self, request: Request) -> ApiResponse:
        for method, pattern, handler, _ in self.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return handler(request, *match.groups())
        return problem(404, f"no route {request.method} {request.path}")

    def health(self, request: Request) -> ApiResponse:
        return ApiResponse(200, None)

    def list_workspaces(self, request: Request) -> ApiResponse:
        wanted = _workspace_filter(request)
        items = [w for i, w in sorted(self.state.workspaces.items()) if wanted is None or i in wanted]
        return _page(request, items)

    def get_workspace(self, request: Request, workspace_id: str) -> ApiResponse:
        workspace = self.state.workspaces.get(workspace_id)
        return (
            ApiResponse(200, workspace) if workspace else problem(404, f"workspace {workspace_id} not found")
        )

    def list_connections(self, request: Request) -> ApiResponse:
        wanted = _workspace_filter(request)
        include_deleted = _first(request.query, "includeDeleted", "false") == "true"
        items = [
            c.to_public()
            for c in self.state.connections.values()
            if (wanted is None or c.workspace_id in wanted) and (include_deleted or not c.deleted)
        ]
        return _page(request, items)

    def get_connection(self, request: Request, connection_id: str) -> ApiResponse:
        connection = self.state.connections.get(connection_id)
        if connection is None or connection.deleted:
            return problem(404, f"Could not find connection with id: {connection_id}")
        return ApiResponse(200, connection.to_public())

    def _list(self, request: Request, items: dict[str, dict[str, Any]]) -> ApiResponse:
        wanted = _workspace_filter(request)
        return _page(
            request, [v for _, v in sorted(items.items()) if wanted is None or v["workspaceId"] in wanted]
        )

    def list_destinations(self, request: Request) -> ApiResponse:
        return self._list(request, self.state.destinations)

    def get_destination(self, request: Request, destination_id: str) -> ApiResponse:
        found = self.state.destinations.get(destination_id)
        return ApiResponse(200, found) if found else problem(404, f"destination {destination_id} not found")

    def list_sources(self, request: Request) -> ApiResponse:
        return self._list(request, self.state.sources)

    def get_source(self, request: Request, source_id: str) -> ApiResponse:
        found = self.state.sources.get(source_id)
        return ApiResponse(200, found) if found else problem(404, f"source {source_id} not found")

    def list_jobs(self, request: Request) -> ApiResponse:
        now = self.state.clock.now()
        connection_id = _first(request.query, "connectionId")
        job_type = _first(request.query, "jobType")
        status = _first(request.query, "status")
        order_by = _first(request.query, "orderBy", "createdAt|DESC") or "createdAt|DESC"
        field_name, _, direction = order_by.partition("|")
        if field_name not in ("createdAt", "updatedAt") or direction not in ("ASC", "DESC"):
            return problem(400, f"orderBy {order_by!r} is not supported")
        wanted = _workspace_filter(request)
        jobs = [
            j
            for j in self.state.jobs.values()
            if (connection_id is None or j.connection_id == connection_id)
            and (job_type is None or j.job_type == job_type)
            and (status is None or j.status(now) == status)
            and (wanted is None or self.state.connections[j.connection_id].workspace_id in wanted)
        ]
        jobs.sort(key=lambda j: (j.created_at, j.job_id), reverse=direction == "DESC")
        return _page(request, [j.to_public(now) for j in jobs])

    def create_job(self, request: Request) -> ApiResponse:
        body = request.body if isinstance(request.body, dict) else {}
        connection_id, job_type = body.get("connectionId"), body.get("jobType")
        if not connection_id or job_type not in JOB_TYPES:
            return problem(400, f"connectionId and jobType (one of {', '.join(JOB_TYPES)}) are required")
        try:
            job = self.state.trigger(connection_id, job_type)
        except NotFound as exc:
            return problem(404, str(exc.args[0]))
        except Conflict as exc:
            return problem(409, str(exc))
        return ApiResponse(200, job.to_public(self.state.clock.now()))

    def get_job(self, request: Request, job_id: str) -> ApiResponse:
        now = self.state.clock.now()
        try:
            job = self.state.job(int(job_id))
        except NotFound as exc:
            return problem(404, str(exc.args[0]))
        body = job.to_public(now)
        if body["status"] not in ACTIVE_STATUSES and job.job_id not in self.state.first_terminal_read:
            self.state.first_terminal_read[job.job_id] = now
            if job.job_id in self.state.last_read:
                self.state.end_read_interval[job.job_id] = now - self.state.last_read[job.job_id]
        self.state.last_read[job.job_id] = now
        return ApiResponse(200, body)

    def cancel_job(self, request: Request, job_id: str) -> ApiResponse:
        try:
            return ApiResponse(200, self.state.cancel(int(job_id)).to_public(self.state.clock.now()))
        except NotFound as exc:
            return problem(404, str(exc.args[0]))


class ConfigApi:
    """`/api/v1`: only what dagster-airbyte (baseline) and per-stream stats need; not in the contract."""

    def __init__(self, state: FakeAirbyteState):
        self.state = state

    def route_key(self, method: str, path: str) -> str:
        return f"config {method} {path}"

    def handle(self, request: Request) -> ApiResponse:
        body = request.body if isinstance(request.body, dict) else {}
        if request.method == "POST" and request.path == "/connections/get":
            connection = self.state.connections.get(str(body.get("connectionId")))
            if connection is None:
                return problem(404, f"Could not find connection with id: {body.get('connectionId')}")
            return ApiResponse(200, connection.to_config_api())
        if request.method == "POST" and request.path == "/jobs/get":
            try:
                job = self.state.job(int(body.get("id", -1)))
            except (NotFound, ValueError):
                return problem(404, f"Could not find job with id: {body.get('id')}")
            return ApiResponse(200, job.to_config_api(self.state.clock.now()))
        return problem(404, f"no config API route {request.method} {request.path}")
