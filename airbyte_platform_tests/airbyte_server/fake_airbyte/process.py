"""The fake server in its own process, with a small client for its admin API (benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import requests

USERNAME, PASSWORD = "airbyte", "password"  # the defaults of FakeAirbyteServer


class FakeAirbyteProcess:
    def __init__(
        self,
        connections: int,
        streams: int,
        *,
        destinations: int = 10,
        time_scale: float = 1.0,
        epoch: float | None = None,
        job_seconds: float = 2.0,
        unique_stream_names: bool = False,
    ):
        self.args = [
            "--connections", str(connections),
            "--streams", str(streams),
            "--destinations", str(destinations),
            "--time-scale", str(time_scale),
            "--job-seconds", str(job_seconds),
            *(["--epoch", repr(epoch)] if epoch is not None else []),
            *(["--unique-stream-names"] if unique_stream_names else []),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.workspace_id = ""

    def __enter__(self) -> FakeAirbyteProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airbyte_platform_tests.airbyte_server.fake_airbyte", *self.args],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        started = json.loads(self.process.stdout.readline())
        self.url, self.workspace_id = started["url"], started["workspace_id"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.url}/__admin{path}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "/stats")

    def reset_stats(self) -> None:
        self.admin("POST", "/stats/reset")

    def connection_ids(self) -> list[str]:
        return self.admin("GET", "/workspace")["connectionIds"]

    def set_plan(self, connection_id: str | None, duration_seconds: float, **plan: Any) -> None:
        """The next jobs of a connection (all when None) run `duration_seconds` of simulated time."""
        self.admin(
            "POST", "/plan", {"connectionId": connection_id, "durationSeconds": duration_seconds, **plan}
        )

    def add_history(self, connection_id: str, durations: list[float]) -> None:
        """Successful past jobs of these simulated durations (what adaptive polling learns from)."""
        self.admin("POST", "/history", {"connectionId": connection_id, "durations": durations})

    def job(self, job_id: int) -> dict[str, Any]:
        """Simulated createdAt/endedAt/firstTerminalReadAt of a job, and its GET /jobs/{id} count."""
        return self.admin("GET", f"/jobs/{job_id}")
