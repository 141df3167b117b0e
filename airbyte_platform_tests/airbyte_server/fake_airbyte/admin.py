"""`/__admin`: control and inspect a fake server running in another process (benchmarks).

- `GET  /stats`            request counts per route, total, injected faults
- `POST /stats/reset`      zero the counters
- `GET  /workspace`        workspace ids and connection ids (sorted by name)
- `POST /plan`             {connectionId?, durationSeconds, pendingSeconds?, outcome?, rowsPerStream?}
- `POST /history`          {connectionId, durations: [seconds, ...]} completed jobs in the past
- `GET  /jobs/<id>`        a job with its simulated created/ended times, when a GET /jobs/{id}
                           first answered its terminal status (and how long after the poll
                           before it), and how often it was polled
- `POST /faults`           {transientRate: 0.3} or {clear: true}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airbyte_platform_tests.airbyte_server.fake_airbyte.api import ApiResponse, problem
from airbyte_platform_tests.airbyte_server.fake_airbyte.state import JobPlan, NotFound

if TYPE_CHECKING:
    from airbyte_platform_tests.airbyte_server.fake_airbyte.server import FakeAirbyteServer


class AdminApi:
    def __init__(self, server: FakeAirbyteServer):
        self.server = server

    def handle(self, method: str, path: str, body: Any, query: Mapping[str, Sequence[str]]) -> ApiResponse:
        body = body if isinstance(body, dict) else {}
        state = self.server.state
        if (method, path) == ("GET", "/stats"):
            return ApiResponse(
                200,
                {
                    "total": self.server.total_requests,
                    "routes": dict(self.server.requests),
                    "faults": dict(self.server.faults.injected),
                },
            )
        if (method, path) == ("POST", "/stats/reset"):
            self.server.reset_counts()
            return ApiResponse(200, {"total": 0})
        if (method, path) == ("GET", "/workspace"):
            with state.lock:
                connections = sorted(state.connections.values(), key=lambda c: c.name)
                return ApiResponse(
                    200,
                    {
                        "workspaceIds": sorted(state.workspaces),
                        "connectionIds": [c.connection_id for c in connections],
                    },
                )
        if (method, path) == ("POST", "/plan"):
            plan = JobPlan(
                duration_seconds=float(body.get("durationSeconds", 2.0)),
                pending_seconds=float(body.get("pendingSeconds", 0.0)),
                outcome=body.get("outcome", "succeeded"),
                rows_per_stream=int(body.get("rowsPerStream", 1000)),
            )
            state.set_plan(body.get("connectionId"), plan)
            return ApiResponse(200, {"ok": True})
        if (method, path) == ("POST", "/history"):
            state.add_history(str(body["connectionId"]), [float(d) for d in body.get("durations", [])])
            return ApiResponse(200, {"ok": True})
        if (method, path) == ("POST", "/faults"):
            if body.get("clear"):
                self.server.faults.clear()
            if "transientRate" in body:
                self.server.faults.transient(float(body["transientRate"]))
            return ApiResponse(200, {"ok": True})
        job_match = re.fullmatch(r"/jobs/(\d+)", path)
        if method == "GET" and job_match:
            try:
                job = state.job(int(job_match.group(1)))
            except NotFound as exc:
                return problem(404, str(exc.args[0]))
            now = state.clock.now()
            status = job.status(now)
            return ApiResponse(
                200,
                {
                    "jobId": job.job_id,
                    "status": status,
                    "createdAt": job.created_at,
                    "endedAt": job.ended_at() if status not in ("pending", "running") else None,
                    "firstTerminalReadAt": state.first_terminal_read.get(job.job_id),
                    "endReadInterval": state.end_read_interval.get(job.job_id),
                    "now": now,
                    "timeScale": state.clock.scale,
                    "polls": self.server.job_polls[job.job_id],
                },
            )
        return problem(404, f"no admin route {method} {path}")
