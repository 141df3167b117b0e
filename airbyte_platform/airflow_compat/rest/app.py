"""The Airflow stable REST API (v1) facade: the subset existing callers use, over the Dagster webserver.

Served paths (as in Airflow's v1.yaml): GET /api/v1/health, GET /api/v1/dags,
GET|PATCH /api/v1/dags/{dag_id}, GET|POST /api/v1/dags/{dag_id}/dagRuns,
GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}, GET .../dagRuns/{dag_run_id}/taskInstances.
Everything else under /api/v1 answers 404 in the same problem format.

DAGs are the documented ones (`airflow_compat.dags`); each is the Dagster job of the same name.
Runs are launched through the webserver's GraphQL `launchRun` (the UI's path), tagged
`airflow/dag_id` and `airflow/dag_run_id`, and read back from it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airbyte_platform.airflow_compat.dags import DAGS, DagSpec
from airbyte_platform.airflow_compat.rest.auth import BasicCredentials, require_basic_auth
from airbyte_platform.airflow_compat.rest.dagster_api import (
    DagsterApiError,
    DagsterWebserver,
    JobInfo,
    RunConfigInvalid,
    RunInfo,
)
from airbyte_platform.airflow_compat.rest.health import health_payload
from airbyte_platform.airflow_compat.rest.payloads import (
    TAG_CONF,
    TAG_DAG_ID,
    TAG_DAG_RUN_ID,
    TAG_LOGICAL_DATE,
    TAG_NOTE,
    TAG_RUN_TYPE,
    conf_tag,
    dag_payload,
    dag_run_id_of,
    dag_run_payload,
    is_paused,
    logical_date_of,
    page,
    task_instance_payloads,
)
from airbyte_platform.airflow_compat.rest.problems import ApiProblem, problem
from airbyte_platform.airflow_compat.rest.states import DAG_RUN_STATES
from airbyte_platform.airflow_compat.rest.trigger_request import parse_trigger_request

# DAGs whose Airflow `conf` is the Dagster run config, verbatim: airbyte_event_driven_sync takes
# {"connection_id": "<id or declared name>"} (its job-level config mapping). The other DAGs read
# no conf in Airflow either: theirs is kept on the run (returned as DAGRun.conf), not executed.
CONF_AS_RUN_CONFIG = frozenset({"airbyte_event_driven_sync"})
DEFAULT_PAGE_LIMIT = 100


@dataclass
class FacadeConfig:
    credentials: BasicCredentials
    dagster: DagsterWebserver
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class _Facade:
    def __init__(self, config: FacadeConfig):
        self.config = config
        self.dagster = config.dagster
        self.specs = {dag.dag_id: dag for dag in DAGS}
        # One launch per DAG at a time: the "does this dag_run_id exist?" lookup and the launch are
        # one step, so concurrent POSTs of the same dag_run_id launch once (per facade process).
        self._launch_locks = {dag_id: asyncio.Lock() for dag_id in self.specs}

    # --- helpers ------------------------------------------------------------------------------
    def spec(self, dag_id: str) -> DagSpec:
        try:
            return self.specs[dag_id]
        except KeyError:
            raise ApiProblem(404, f"DAG with dag_id: '{dag_id}' not found", title="DAG not found") from None

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(function, *args, **kwargs)
        except DagsterApiError as exc:
            raise ApiProblem(503, str(exc)) from exc

    async def job(self, dag_id: str) -> JobInfo:
        jobs = await self.call(self.dagster.jobs)
        if dag_id not in jobs:
            raise ApiProblem(
                404,
                f"DAG '{dag_id}' is documented but the Dagster code location does not define job "
                f"'{dag_id}': check that the code location loads in the Dagster UI",
                title="DAG not found",
            )
        return jobs[dag_id]

    async def find_run(self, dag_id: str, dag_run_id: str) -> RunInfo | None:
        tagged = await self.call(self.dagster.runs, dag_id, {TAG_DAG_RUN_ID: dag_run_id}, 1)
        if tagged:
            return tagged[0]
        # Runs started elsewhere (UI, schedule, sensor) are listed under their Dagster run id.
        run = await self.call(self.dagster.run, dag_run_id) if _looks_like_run_id(dag_run_id) else None
        return run if run and run.job_name == dag_id and TAG_DAG_RUN_ID not in run.tags else None

    async def run_with_steps(self, dag_id: str, dag_run_id: str) -> RunInfo:
        found = await self.find_run(dag_id, dag_run_id)
        run = await self.call(self.dagster.run, found.run_id) if found else None
        if run is None:
            raise ApiProblem(
                404,
                f"DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{dag_run_id}' not found",
                title="DAGRun not found",
            )
        return run

    # --- endpoints ----------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(health_payload, self.dagster))

    async def list_dags(self, request: Request) -> Response:
        limit, offset = _paging(request)
        jobs = await self.call(self.dagster.jobs)
        pattern = request.query_params.get("dag_id_pattern")
        paused = _optional_bool(request, "paused")
        only_active = _optional_bool(request, "only_active")
        dags = [
            dag_payload(spec, jobs.get(spec.dag_id))
            for spec in self.specs.values()
            if (not pattern or pattern.lower() in spec.dag_id.lower())
            and (paused is None or is_paused(jobs.get(spec.dag_id)) == paused)
            and (only_active is False or spec.dag_id in jobs)
        ]
        dags.sort(key=lambda d: d["dag_id"], reverse=request.query_params.get("order_by") == "-dag_id")
        return JSONResponse({"dags": page(dags, limit, offset), "total_entries": len(dags)})

    async def get_dag(self, request: Request) -> Response:
        spec = self.spec(request.path_params["dag_id"])
        jobs = await self.call(self.dagster.jobs)
        return JSONResponse(dag_payload(spec, jobs.get(spec.dag_id)))

    async def patch_dag(self, request: Request) -> Response:
        spec = self.spec(request.path_params["dag_id"])
        body = await _json_body(request)
        mask = [m.strip() for m in request.query_params.get("update_mask", "").split(",") if m.strip()]
        if any(field != "is_paused" for field in mask):
            raise ApiProblem(
                400, f"Only `is_paused` field can be updated through the REST API (update_mask={mask})"
            )
        if not isinstance(body, dict) or not isinstance(body.get("is_paused"), bool):
            raise ApiProblem(
                400, "{'is_paused': ['Not a valid boolean.']} (send {\"is_paused\": true|false})"
            )
        extra = set(body) - {"is_paused"} - _DAG_READ_ONLY
        if extra and not mask:
            raise ApiProblem(400, str({name: ["Unknown field."] for name in sorted(extra)}))
        job = await self.job(spec.dag_id)
        if not job.instigators:
            raise ApiProblem(
                400,
                f"DAG '{spec.dag_id}' has no Dagster schedule or sensor: its runs start only when triggered, "
                "so there is nothing to pause or unpause",
            )
        running = not body["is_paused"]
        for instigator in job.instigators:
            await self.call(self.dagster.set_instigator_running, job, instigator, running)
        return JSONResponse(dag_payload(spec, await self.job(spec.dag_id)))

    async def list_dag_runs(self, request: Request) -> Response:
        spec = self.spec(request.path_params["dag_id"])
        limit, offset = _paging(request)
        runs: list[RunInfo] = await self.call(self.dagster.runs, spec.dag_id)
        states = set(request.query_params.getlist("state"))
        unknown = states - set(DAG_RUN_STATES.values())
        if unknown:
            raise ApiProblem(
                400, f"unknown state(s) {sorted(unknown)}; use queued, running, success or failed"
            )
        payloads = [dag_run_payload(spec.dag_id, run) for run in reversed(runs)]  # oldest first, as Airflow
        if states:
            payloads = [p for p in payloads if p["state"] in states]
        if request.query_params.get("order_by", "").lstrip("-") in (
            "execution_date",
            "logical_date",
            "start_date",
        ):
            key = request.query_params["order_by"].lstrip("-")
            key = "logical_date" if key == "execution_date" else key
            payloads.sort(
                key=lambda p: p[key] or "", reverse=request.query_params["order_by"].startswith("-")
            )
        return JSONResponse({"dag_runs": page(payloads, limit, offset), "total_entries": len(payloads)})

    async def trigger_dag_run(self, request: Request) -> Response:
        spec = self.spec(request.path_params["dag_id"])
        trigger = parse_trigger_request(await _json_body(request), self.config.clock())
        job = await self.job(spec.dag_id)
        logical_date = trigger.logical_date.isoformat()
        tags = {
            TAG_DAG_ID: spec.dag_id,
            TAG_DAG_RUN_ID: trigger.dag_run_id,
            TAG_LOGICAL_DATE: logical_date,
            TAG_RUN_TYPE: "manual",
            TAG_CONF: conf_tag(trigger.conf),
        }
        if trigger.note:
            tags[TAG_NOTE] = trigger.note
        run_config = trigger.conf if spec.dag_id in CONF_AS_RUN_CONFIG else {}
        async with self._launch_locks[spec.dag_id]:
            if await self.call(self.dagster.runs, spec.dag_id, {TAG_DAG_RUN_ID: trigger.dag_run_id}, 1):
                raise ApiProblem(
                    409,
                    f"DAGRun with DAG ID: '{spec.dag_id}' and DAGRun ID: '{trigger.dag_run_id}' already exists",
                )
            if await self.call(self.dagster.runs, spec.dag_id, {TAG_LOGICAL_DATE: logical_date}, 1):
                raise ApiProblem(
                    409,
                    f"DAGRun with DAG ID: '{spec.dag_id}' and DAGRun logical date: '{logical_date}' already exists",
                )
            try:
                run_id = await self.call(self.dagster.launch_run, job, run_config, tags)
            except RunConfigInvalid as exc:
                hint = (
                    ' (this DAG takes {"connection_id": "<Airbyte connection id or declared connection name>"})'
                    if spec.dag_id in CONF_AS_RUN_CONFIG
                    else ""
                )
                raise ApiProblem(
                    400, f"conf is not valid for DAG '{spec.dag_id}'{hint}: {'; '.join(exc.errors)}"
                ) from exc
        run = await self.call(self.dagster.run, run_id)
        if run is None:  # the webserver accepted the launch, so the run exists; answer from what we sent
            raise ApiProblem(503, f"launched Dagster run {run_id} but could not read it back")
        return JSONResponse(dag_run_payload(spec.dag_id, run))

    async def get_dag_run(self, request: Request) -> Response:
        spec = self.spec(request.path_params["dag_id"])
        run = await self.run_with_steps(spec.dag_id, request.path_params["dag_run_id"])
        return JSONResponse(dag_run_payload(spec.dag_id, run))

    async def list_task_instances(self, request: Request) -> Response:
        spec = self.spec(request.path_params["dag_id"])
        limit, offset = _paging(request)
        run = await self.run_with_steps(spec.dag_id, request.path_params["dag_run_id"])
        planned = await self.call(self.dagster.planned_work, run.run_id)
        instances = task_instance_payloads(spec, run, planned)
        states = set(request.query_params.getlist("state"))
        if states:
            instances = [i for i in instances if (i["state"] or "none") in states]
        return JSONResponse(
            {"task_instances": page(instances, limit, offset), "total_entries": len(instances)}
        )


_DAG_READ_ONLY = frozenset(
    {"dag_id", "dag_display_name", "is_active", "fileloc", "file_token", "owners", "description", "tags"}
)


def _looks_like_run_id(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


def _paging(request: Request) -> tuple[int, int]:
    def integer(name: str, default: int, minimum: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiProblem(400, f"{name}={raw!r} is not an integer") from None
        if value < minimum:
            raise ApiProblem(400, f"{name} must be at least {minimum}")
        return value

    return integer("limit", DEFAULT_PAGE_LIMIT, 0), integer("offset", 0, 0)


def _optional_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ApiProblem(400, f"{name}={raw!r} is not a boolean (true or false)")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ApiProblem(400, "Request body is not valid JSON") from None


def build_airflow_api_app(config: FacadeConfig) -> Starlette:
    facade = _Facade(config)

    def guarded(handler: Callable[[Request], Any], public: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                if not public:
                    require_basic_auth(request, config.credentials)
                return await handler(request)
            except ApiProblem as exc:
                return exc.response()

        return endpoint

    prefix = "/api/v1"
    routes = [
        Route(f"{prefix}/health", guarded(facade.health, public=True), methods=["GET"]),
        Route(f"{prefix}/dags", guarded(facade.list_dags), methods=["GET"]),
        Route(f"{prefix}/dags/{{dag_id}}", guarded(facade.get_dag), methods=["GET"]),
        Route(f"{prefix}/dags/{{dag_id}}", guarded(facade.patch_dag), methods=["PATCH"]),
        Route(f"{prefix}/dags/{{dag_id}}/dagRuns", guarded(facade.list_dag_runs), methods=["GET"]),
        Route(f"{prefix}/dags/{{dag_id}}/dagRuns", guarded(facade.trigger_dag_run), methods=["POST"]),
        Route(
            f"{prefix}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}", guarded(facade.get_dag_run), methods=["GET"]
        ),
        Route(
            f"{prefix}/dags/{{dag_id}}/dagRuns/{{dag_run_id}}/taskInstances",
            guarded(facade.list_task_instances),
            methods=["GET"],
        ),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return problem(
                404,
                f"{request.url.path} is not served by this facade (a subset of Airflow's stable REST API)",
            )
        if status == 405:
            return problem(405, f"{request.method} is not allowed on {request.url.path}")
        return problem(500, "unexpected error; see the facade's log")

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: http_error})


__all__ = ["CONF_AS_RUN_CONFIG", "FacadeConfig", "build_airflow_api_app", "dag_run_id_of", "logical_date_of"]
