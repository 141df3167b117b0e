"""A loopback stand-in for the part of the Databricks REST API this project calls.

Answers what the Databricks SDK (0.60) sends for `jobs.run_now` + waiting, `jobs.submit`,
`jobs.get_run`, `jobs.cancel_run`, `clusters.get` and DBFS (`put`, `create`/`add-block`/`close`,
`read`, `get-status`, `list`, `mkdirs`, `delete`), at the versions the SDK uses (`/api/2.2/jobs/...`,
`/api/2.1/clusters/get`, `/api/2.0/dbfs/...`). Every request is recorded; a test scripts each run's
lifecycle (the states successive `runs/get` polls see) or lets the stand-in execute a submitted
`spark_python_task` locally (`execute_python_tasks`), the way a cluster would.

DBFS lives in a real folder (`dbfs_root`), so a locally executed task can see it where Databricks
mounts it (`/dbfs/...`, see fake_databricks_runtime.py).

Error bodies follow Databricks' shape (`{"error_code", "message"}`); a missing job answers
`400 INVALID_PARAMETER_VALUE "Job N does not exist."` as run-now does.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "dapi-loopback-test-token"
RUNTIME = Path(__file__).with_name("fake_databricks_runtime.py")


@dataclass(frozen=True)
class RunState:
    life_cycle_state: str
    result_state: str | None = None
    state_message: str = ""

    def as_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "life_cycle_state": self.life_cycle_state,
            "state_message": self.state_message,
            "user_cancelled_or_timedout": False,
        }
        if self.result_state:
            state["result_state"] = self.result_state
        return state


PENDING = RunState("PENDING", state_message="Waiting for cluster")
RUNNING = RunState("RUNNING", state_message="In run")
SUCCESS = RunState("TERMINATED", "SUCCESS")


def failed(message: str) -> RunState:
    return RunState("TERMINATED", "FAILED", message)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    authorization: str | None


@dataclass
class FakeRun:
    run_id: int
    job_id: int | None
    request: dict[str, Any]
    script: list[RunState]
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    polls: int = 0
    on_start: Callable[[FakeRun], None] | None = None
    started: bool = False
    execution: threading.Thread | None = None
    outcome: RunState | None = None
    output: str = ""

    def next_state(self) -> RunState:
        """The state this poll sees: a scripted step, or the locally executed task's progress."""
        if self.execution is not None:
            return self.outcome or RUNNING
        state = self.script[min(self.polls, len(self.script) - 1)]
        self.polls += 1
        if state.life_cycle_state not in ("PENDING", "QUEUED") and not self.started:
            self.started = True  # the notebook "runs" when the run leaves PENDING
            if self.on_start is not None:
                try:
                    self.on_start(self)
                except Exception as exc:  # the notebook raised: the run fails with its message
                    self.outcome = failed(f"{type(exc).__name__}: {exc}")
        if self.outcome is not None and state.life_cycle_state == "TERMINATED":
            return self.outcome
        return state


class FakeDatabricks:
    """The workspace at `host`; use as a context manager (`with FakeDatabricks(tmp) as fake:`)."""

    def __init__(self, dbfs_root: Path, *, token: str = TOKEN) -> None:
        self.dbfs_root = dbfs_root
        self.dbfs_root.mkdir(parents=True, exist_ok=True)
        self.token = token
        # job id -> the job's "notebook", called with the run when the run starts (or None).
        self.jobs: dict[int, Callable[[FakeRun], None] | None] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.lifecycle: list[RunState] = [PENDING, RUNNING, SUCCESS]
        self.reject_with: int | None = None  # answer every request with this status (401, 403)
        self.execute_python_tasks = False
        self.requests: list[Recorded] = []
        self.runs: dict[int, FakeRun] = {}
        self._ids = itertools.count(1001)
        self._handles: dict[int, tuple[Path, bytearray]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeDatabricks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        for run in self.runs.values():
            if run.execution is not None:
                run.execution.join(timeout=60)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def run_page_url(self, run: FakeRun) -> str:
        return f"{self.host}/?o=0#job/{run.job_id or 0}/run/{run.run_id}"

    def dbfs_path(self, path: str) -> Path:
        """Where a DBFS path (`/tmp/x`, `dbfs:/tmp/x`) lives on disk."""
        relative = path.removeprefix("dbfs:").lstrip("/")
        target = (self.dbfs_root / relative).resolve()
        if not target.is_relative_to(self.dbfs_root.resolve()):
            raise ValueError(path)
        return target

    # ---- HTTP plumbing -------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self, method: str) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                auth = self.headers.get("Authorization")
                fake.requests.append(Recorded(method, url.path, query, body, auth))
                status, payload = fake.answer(method, url.path, query, body, auth)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler

    def answer(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any], auth: str | None
    ) -> tuple[int, dict[str, Any]]:
        if self.reject_with == 403:
            return 403, _error("PERMISSION_DENIED", "User does not have permission to run this job.")
        if self.reject_with == 401 or auth != f"Bearer {self.token}":
            return 401, _error("UNAUTHENTICATED", "Invalid access token.")
        route = self._routes().get((method, path))
        if route is None:
            return 404, _error("ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        with self._lock:
            try:
                return route({**query, **body})
            except _ApiError as exc:
                return exc.status, _error(exc.code, exc.message)

    def _routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]]:
        return {
            ("POST", "/api/2.2/jobs/run-now"): self._run_now,
            ("POST", "/api/2.2/jobs/runs/submit"): self._submit,
            ("GET", "/api/2.2/jobs/runs/get"): self._get_run,
            ("POST", "/api/2.2/jobs/runs/cancel"): self._cancel,
            ("GET", "/api/2.1/clusters/get"): self._get_cluster,
            ("POST", "/api/2.0/dbfs/mkdirs"): self._mkdirs,
            ("POST", "/api/2.0/dbfs/put"): self._put,
            ("POST", "/api/2.0/dbfs/create"): self._create,
            ("POST", "/api/2.0/dbfs/add-block"): self._add_block,
            ("POST", "/api/2.0/dbfs/close"): self._close,
            ("GET", "/api/2.0/dbfs/read"): self._read,
            ("GET", "/api/2.0/dbfs/get-status"): self._get_status,
            ("GET", "/api/2.0/dbfs/list"): self._list,
            ("POST", "/api/2.0/dbfs/delete"): self._delete,
        }

    # ---- Jobs ----------------------------------------------------------------------------------

    def _run_now(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job_id = int(args.get("job_id", 0))
        if job_id not in self.jobs:
            raise _ApiError(400, "INVALID_PARAMETER_VALUE", f"Job {job_id} does not exist.")
        run = FakeRun(next(self._ids), job_id, args, list(self.lifecycle), on_start=self.jobs[job_id])
        self.runs[run.run_id] = run
        return 200, {"run_id": run.run_id, "number_in_job": run.run_id}

    def _submit(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        tasks = args.get("tasks") or []
        if not tasks:
            raise _ApiError(400, "INVALID_PARAMETER_VALUE", "At least one task is required.")
        for task in tasks:
            cluster = task.get("existing_cluster_id")
            if cluster is not None and cluster not in self.clusters:
                raise _ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cluster} does not exist")
        run = FakeRun(next(self._ids), None, args, list(self.lifecycle))
        self.runs[run.run_id] = run
        if self.execute_python_tasks:
            run.execution = threading.Thread(target=self._execute, args=(run, tasks[0]), daemon=True)
            run.execution.start()
        return 200, {"run_id": run.run_id}

    def _execute(self, run: FakeRun, task: dict[str, Any]) -> None:
        """Run a spark_python_task's file from DBFS with its parameters, as a cluster would."""
        python_task = task.get("spark_python_task") or {}
        try:
            script = self.dbfs_path(python_task["python_file"])
            completed = subprocess.run(
                [
                    sys.executable,
                    str(RUNTIME),
                    str(self.dbfs_root),
                    str(script),
                    *python_task.get("parameters", []),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env={
                    **os.environ,
                    "FAKE_DATABRICKS_CLUSTER_ID": task.get("existing_cluster_id", ""),
                },
            )
        except Exception as exc:
            run.outcome = RunState("INTERNAL_ERROR", None, f"could not start the task: {exc}")
            return
        run.output = completed.stdout + completed.stderr
        if completed.returncode == 0:
            run.outcome = SUCCESS
        else:
            tail = completed.stderr.strip().splitlines()[-1:] or ["(no output)"]
            run.outcome = failed(f"Workload failed: {tail[0]}")

    def _get_run(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self.runs.get(int(args.get("run_id", 0)))
        if run is None:
            raise _ApiError(400, "INVALID_PARAMETER_VALUE", f"Run {args.get('run_id')} does not exist.")
        state = run.next_state()
        payload: dict[str, Any] = {
            "run_id": run.run_id,
            "number_in_job": run.run_id,
            "run_page_url": self.run_page_url(run),
            "run_type": "JOB_RUN" if run.job_id else "SUBMIT_RUN",
            "start_time": run.started_ms,
            "state": state.as_dict(),
            "tasks": [
                {"task_key": t.get("task_key", "task"), "run_id": run.run_id * 10 + i}
                for i, t in enumerate(run.request.get("tasks") or [{}])
            ],
        }
        if run.job_id:
            payload["job_id"] = run.job_id
        if state.life_cycle_state in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
            payload["end_time"] = run.started_ms + 42_000
            payload["run_duration"] = 42_000
        return 200, payload

    def _cancel(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self.runs[int(args["run_id"])]
        run.outcome = RunState("TERMINATED", "CANCELED", "Run cancelled.")
        run.script = [run.outcome]
        return 200, {}

    def _get_cluster(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cluster_id = args.get("cluster_id", "")
        if cluster_id not in self.clusters:
            raise _ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cluster_id} does not exist")
        return 200, {"cluster_id": cluster_id, "state": "RUNNING", **self.clusters[cluster_id]}

    # ---- DBFS ----------------------------------------------------------------------------------

    def _existing(self, path: str) -> Path:
        target = self.dbfs_path(path)
        if not target.exists():
            raise _ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {path}.")
        return target

    def _mkdirs(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.dbfs_path(args["path"]).mkdir(parents=True, exist_ok=True)
        return 200, {}

    def _writable(self, path: str, overwrite: bool) -> Path:
        target = self.dbfs_path(path)
        if target.exists() and not overwrite:
            raise _ApiError(400, "RESOURCE_ALREADY_EXISTS", f"A file or directory already exists at {path}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _put(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._writable(args["path"], bool(args.get("overwrite")))
        target.write_bytes(base64.b64decode(args.get("contents", "")))
        return 200, {}

    def _create(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handle = next(self._ids)
        self._handles[handle] = (self._writable(args["path"], bool(args.get("overwrite"))), bytearray())
        return 200, {"handle": handle}

    def _add_block(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._handles[int(args["handle"])][1].extend(base64.b64decode(args["data"]))
        return 200, {}

    def _close(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target, data = self._handles.pop(int(args["handle"]))
        target.write_bytes(bytes(data))
        return 200, {}

    def _read(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._existing(args["path"])
        if target.is_dir():
            raise _ApiError(400, "INVALID_PARAMETER_VALUE", f"{args['path']} is a directory")
        offset, length = int(args.get("offset", 0)), int(args.get("length", 524_288))
        data = target.read_bytes()[offset : offset + length]
        return 200, {"bytes_read": len(data), "data": base64.b64encode(data).decode()}

    def _info(self, target: Path) -> dict[str, Any]:
        relative = "/" + target.relative_to(self.dbfs_root.resolve()).as_posix()
        stat = target.stat()
        return {
            "path": relative,
            "is_dir": target.is_dir(),
            "file_size": 0 if target.is_dir() else stat.st_size,
            "modification_time": int(stat.st_mtime * 1000),
        }

    def _get_status(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, self._info(self._existing(args["path"]))

    def _list(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._existing(args["path"])
        children = sorted(target.iterdir()) if target.is_dir() else [target]
        return 200, {"files": [self._info(child) for child in children]}

    def _delete(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self.dbfs_path(args["path"])
        if target.is_dir():
            if any(target.iterdir()) and not args.get("recursive"):
                raise _ApiError(400, "IO_ERROR", f"{args['path']} is a non-empty directory")
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        return 200, {}


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message}
