"""The Dagster webserver's GraphQL API, as the facade uses it: launch, find and read runs; start/stop
the schedules and sensors of a job; daemon health.

The facade talks to Dagster only through the webserver, as the UI does: one URL to configure, the
same permission checks and launch path (run coordinator, tags, concurrency) as a click on Launch,
and no database credentials in the facade's process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

GraphQLData = dict[str, Any]


class DagsterApiError(RuntimeError):
    """The webserver could not be reached, or answered with an error that is not the caller's fault."""


class RunConfigInvalid(ValueError):
    """Dagster rejected the run config (an Airflow `conf` the job does not accept)."""

    def __init__(self, job_name: str, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__(f"run config rejected by job {job_name}: " + "; ".join(self.errors))


@dataclass(frozen=True)
class Instigator:
    """A schedule or sensor that starts runs of a job."""

    kind: str  # "schedule" | "sensor"
    name: str
    running: bool
    state_id: str | None
    cron_schedule: str | None = None
    timezone: str | None = None
    next_tick: float | None = None


@dataclass(frozen=True)
class JobInfo:
    name: str
    location: str
    repository: str
    description: str | None
    instigators: tuple[Instigator, ...] = ()


@dataclass(frozen=True)
class StepStat:
    step_key: str
    status: str | None  # SUCCESS, FAILURE, SKIPPED, IN_PROGRESS
    start_time: float | None
    end_time: float | None
    attempts: int


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    job_name: str
    status: str
    tags: Mapping[str, str]
    creation_time: float
    start_time: float | None
    end_time: float | None
    update_time: float | None
    run_config_yaml: str = ""
    step_stats: tuple[StepStat, ...] = ()


@dataclass(frozen=True)
class PlannedWork:
    """Which step of a run materializes each asset and runs each check (from the run's planned events)."""

    asset_steps: Mapping[tuple[str, ...], str] = field(default_factory=dict)
    check_steps: Mapping[tuple[tuple[str, ...], str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class DaemonStatus:
    daemon_type: str
    healthy: bool | None
    last_heartbeat: float | None


_RUN_FIELDS = """
fragment RunFields on Run {
  runId jobName status creationTime startTime endTime updateTime runConfigYaml
  tags { key value }
}
"""

_REPOSITORIES = """
query Repositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        pipelines { name description isJob }
        schedules {
          name pipelineName cronSchedule executionTimezone
          scheduleState { id status }
          futureTicks(limit: 1) { results { timestamp } }
        }
        sensors { name targets { pipelineName } sensorState { id status } }
      }
    }
    ... on PythonError { message }
  }
}
"""

_RUNS = (
    """
query Runs($filter: RunsFilter, $limit: Int, $cursor: String) {
  runsOrError(filter: $filter, limit: $limit, cursor: $cursor) {
    __typename
    ... on Runs { results { ...RunFields } }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""
    + _RUN_FIELDS
)

_RUN = (
    """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      ...RunFields
      stepStats { stepKey status startTime endTime attempts { startTime } }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""
    + _RUN_FIELDS
)

_PLANNED = """
query Planned($runId: ID!, $cursor: String, $limit: Int) {
  logsForRun(runId: $runId, afterCursor: $cursor, limit: $limit) {
    __typename
    ... on EventConnection {
      cursor hasMore
      events {
        __typename
        ... on AssetMaterializationPlannedEvent { stepKey plannedAsset: assetKey { path } }
        ... on AssetCheckEvaluationPlannedEvent { stepKey checkedAsset: assetKey { path } checkName }
      }
    }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

_LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_START_SCHEDULE = """
mutation StartSchedule($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_STOP_SCHEDULE = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_START_SENSOR = """
mutation StartSensor($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

_HEALTH = """
query Health {
  instance { daemonHealth { allDaemonStatuses { daemonType healthy required lastHeartbeatTime } } }
}
"""

# Planned events are written when the run is created, before any step starts; a few pages cover them.
_PLANNED_PAGE = 1000
_PLANNED_MAX_PAGES = 20


class DagsterWebserver:
    """A small GraphQL client of one Dagster webserver (thread-safe: one HTTP session per call)."""

    def __init__(self, url: str, timeout: float = 30.0):
        self.graphql_url = url.rstrip("/") + "/graphql"
        self.timeout = timeout

    def _query(self, query: str, variables: Mapping[str, Any] | None = None) -> GraphQLData:
        try:
            response = requests.post(
                self.graphql_url,
                json={"query": query, "variables": dict(variables or {})},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise DagsterApiError(f"Dagster webserver at {self.graphql_url} is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise DagsterApiError(
                f"Dagster webserver answered HTTP {response.status_code}: {response.text[:300]}"
            )
        body = response.json()
        if body.get("errors"):
            messages = "; ".join(str(error.get("message")) for error in body["errors"])
            raise DagsterApiError(f"Dagster GraphQL error: {messages}")
        return body["data"]

    @staticmethod
    def _expect(result: GraphQLData, typename: str) -> GraphQLData:
        if result.get("__typename") != typename:
            raise DagsterApiError(f"{result.get('__typename')}: {result.get('message', result)}")
        return result

    # --- jobs, schedules, sensors -------------------------------------------------------------
    def jobs(self) -> dict[str, JobInfo]:
        """Every job of the workspace by name, with the schedules and sensors that target it."""
        data = self._expect(self._query(_REPOSITORIES)["repositoriesOrError"], "RepositoryConnection")
        jobs: dict[str, JobInfo] = {}
        for repo in data["nodes"]:
            instigators: dict[str, list[Instigator]] = {}
            for schedule in repo["schedules"]:
                ticks = schedule["futureTicks"]["results"]
                instigators.setdefault(schedule["pipelineName"], []).append(
                    Instigator(
                        kind="schedule",
                        name=schedule["name"],
                        running=schedule["scheduleState"]["status"] == "RUNNING",
                        state_id=schedule["scheduleState"]["id"],
                        cron_schedule=schedule["cronSchedule"],
                        timezone=schedule["executionTimezone"],
                        next_tick=ticks[0]["timestamp"] if ticks else None,
                    )
                )
            for sensor in repo["sensors"]:
                for target in sensor["targets"] or []:
                    instigators.setdefault(target["pipelineName"], []).append(
                        Instigator(
                            kind="sensor",
                            name=sensor["name"],
                            running=sensor["sensorState"]["status"] == "RUNNING",
                            state_id=sensor["sensorState"]["id"],
                        )
                    )
            for job in repo["pipelines"]:
                if job["name"].startswith("__"):  # Dagster's implicit asset job
                    continue
                jobs[job["name"]] = JobInfo(
                    name=job["name"],
                    location=repo["location"]["name"],
                    repository=repo["name"],
                    description=job["description"],
                    instigators=tuple(instigators.get(job["name"], ())),
                )
        return jobs

    def set_instigator_running(self, job: JobInfo, instigator: Instigator, running: bool) -> None:
        if instigator.running == running:
            return
        if running:
            selector_key = "scheduleName" if instigator.kind == "schedule" else "sensorName"
            selector = {
                "repositoryLocationName": job.location,
                "repositoryName": job.repository,
                selector_key: instigator.name,
            }
            query = _START_SCHEDULE if instigator.kind == "schedule" else _START_SENSOR
            root = "startSchedule" if instigator.kind == "schedule" else "startSensor"
            result = self._query(query, {"selector": selector})[root]
            expected = ("ScheduleStateResult",) if instigator.kind == "schedule" else ("Sensor",)
        else:
            query = _STOP_SCHEDULE if instigator.kind == "schedule" else _STOP_SENSOR
            root = "stopRunningSchedule" if instigator.kind == "schedule" else "stopSensor"
            result = self._query(query, {"id": instigator.state_id})[root]
            expected = ("ScheduleStateResult", "StopSensorMutationResult")
        if result.get("__typename") not in expected:
            raise DagsterApiError(
                f"could not {'start' if running else 'stop'} {instigator.kind} {instigator.name}: "
                f"{result.get('__typename')}: {result.get('message', '')}"
            )

    # --- runs ---------------------------------------------------------------------------------
    def launch_run(self, job: JobInfo, run_config: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        params = {
            "selector": {
                "repositoryLocationName": job.location,
                "repositoryName": job.repository,
                "jobName": job.name,
            },
            "runConfigData": dict(run_config),
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        result = self._query(_LAUNCH, {"params": params})["launchRun"]
        if result["__typename"] == "RunConfigValidationInvalid":
            raise RunConfigInvalid(job.name, [error["message"] for error in result["errors"]])
        return self._expect(result, "LaunchRunSuccess")["run"]["runId"]

    def runs(
        self, job_name: str, tags: Mapping[str, str] | None = None, limit: int | None = None
    ) -> list[RunInfo]:
        """Runs of `job_name` (newest first), optionally only those carrying every tag in `tags`."""
        run_filter: dict[str, Any] = {"pipelineName": job_name}
        if tags:
            run_filter["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        data = self._expect(self._query(_RUNS, {"filter": run_filter, "limit": limit})["runsOrError"], "Runs")
        return [_run_info(run) for run in data["results"]]

    def run(self, run_id: str) -> RunInfo | None:
        result = self._query(_RUN, {"runId": run_id})["runOrError"]
        if result["__typename"] == "RunNotFoundError":
            return None
        run = self._expect(result, "Run")
        steps = tuple(
            StepStat(
                step_key=step["stepKey"],
                status=step["status"],
                start_time=step["startTime"],
                end_time=step["endTime"],
                attempts=len(step["attempts"]),
            )
            for step in run["stepStats"]
        )
        return _run_info(run, steps)

    def planned_work(self, run_id: str) -> PlannedWork:
        asset_steps: dict[tuple[str, ...], str] = {}
        check_steps: dict[tuple[tuple[str, ...], str], str] = {}
        cursor: str | None = None
        for _ in range(_PLANNED_MAX_PAGES):
            page = self._expect(
                self._query(_PLANNED, {"runId": run_id, "cursor": cursor, "limit": _PLANNED_PAGE})[
                    "logsForRun"
                ],
                "EventConnection",
            )
            others = 0
            for event in page["events"]:
                if event["__typename"] == "AssetMaterializationPlannedEvent" and event.get("plannedAsset"):
                    asset_steps[tuple(event["plannedAsset"]["path"])] = event["stepKey"]
                elif event["__typename"] == "AssetCheckEvaluationPlannedEvent":
                    key = (tuple(event["checkedAsset"]["path"]), event["checkName"])
                    check_steps[key] = event["stepKey"]
                else:
                    others += 1
            # Once a step or the run has started, every planned event is behind us.
            if not page["hasMore"] or (others and (asset_steps or check_steps) and _started(page)):
                break
            cursor = page["cursor"]
        return PlannedWork(asset_steps=asset_steps, check_steps=check_steps)

    # --- health -------------------------------------------------------------------------------
    def daemon_statuses(self) -> list[DaemonStatus]:
        data = self._query(_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return [
            DaemonStatus(
                daemon_type=status["daemonType"],
                healthy=status["healthy"] if status["required"] else None,
                last_heartbeat=status["lastHeartbeatTime"],
            )
            for status in data
        ]


def _started(page: GraphQLData) -> bool:
    return any(
        event["__typename"] in ("RunStartEvent", "ExecutionStepStartEvent", "RunFailureEvent")
        for event in page["events"]
    )


def _run_info(run: GraphQLData, steps: tuple[StepStat, ...] = ()) -> RunInfo:
    return RunInfo(
        run_id=run["runId"],
        job_name=run["jobName"],
        status=run["status"],
        tags={tag["key"]: tag["value"] for tag in run["tags"]},
        creation_time=run["creationTime"],
        start_time=run["startTime"],
        end_time=run["endTime"],
        update_time=run["updateTime"],
        run_config_yaml=run["runConfigYaml"],
        step_stats=steps,
    )
