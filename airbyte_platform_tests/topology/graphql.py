"""The webserver's GraphQL API, called the way the Dagster UI calls it (launch, watch, terminate)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import dagster as dg
import requests

LOCATION = "airbyte_platform"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # a Definitions object's repository
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
  }
}
"""

RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status tags { key value } }
    ... on PythonError { message }
  }
}
"""

TERMINATE_RUN = """
mutation TerminateRun($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { runId } }
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}
"""

RUNS_WITH_TAG = """
query Runs($key: String!, $value: String!) {
  runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
    __typename
    ... on Runs { results { runId jobName status } }
  }
}
"""

SENSOR_STATUS = """
query SensorStatus($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on SensorNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

# What the UI's sensor toggle sends.
START_SENSOR = """
mutation StartSensor($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on SensorNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

ASSET_NODES = """
query AssetNodes { assetNodes { assetKey { path } } }
"""


class LaunchError(AssertionError):
    pass


@dataclass
class DagsterUi:
    url: str

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql", json={"query": text, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def launch(self, job: str, run_config: dict[str, Any] | None = None) -> str:
        """A run of `job` with its default selection (checks included), as the launchpad launches it."""
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
            "runConfigData": run_config or {},
            "mode": "default",
        }
        result = self.query(LAUNCH_RUN, {"executionParams": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise LaunchError(f"launching {job}: {result}")
        return result["run"]["runId"]

    def materialize(self, keys: list[dg.AssetKey]) -> str:
        """A run of these assets, as Materialize in the asset graph launches it: the implicit asset job
        with an asset selection, no job tags."""
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": "__ASSET_JOB",
                "assetSelection": [{"path": key.path} for key in keys],
            },
            "runConfigData": {},
            "mode": "default",
        }
        result = self.query(LAUNCH_RUN, {"executionParams": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise LaunchError(f"materializing {[k.to_user_string() for k in keys]}: {result}")
        return result["run"]["runId"]

    def run_tags(self, run_id: str) -> dict[str, str]:
        result = self.query(RUN_STATUS, {"runId": run_id})["runOrError"]
        assert result["__typename"] == "Run", result
        return {tag["key"]: tag["value"] for tag in result["tags"]}

    def status(self, run_id: str) -> str:
        result = self.query(RUN_STATUS, {"runId": run_id})["runOrError"]
        assert result["__typename"] == "Run", result
        return result["status"]

    def wait(self, run_ids: list[str], timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = {run_id: self.status(run_id) for run_id in run_ids}
            if all(status in TERMINAL for status in statuses.values()):
                return statuses
            time.sleep(1.0)
        raise AssertionError(f"runs not finished within {timeout:.0f} s: {statuses}")

    def terminate(self, run_id: str) -> None:
        result = self.query(TERMINATE_RUN, {"runId": run_id})["terminateRun"]
        assert result["__typename"] == "TerminateRunSuccess", result

    def terminate_unfinished(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            if self.status(run_id) not in TERMINAL:
                self.terminate(run_id)

    def runs_tagged(self, key: str, value: str) -> list[dict[str, str]]:
        result = self.query(RUNS_WITH_TAG, {"key": key, "value": value})["runsOrError"]
        return result["results"]

    def _sensor_selector(self, name: str) -> dict[str, Any]:
        return {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}
        }

    def sensor_status(self, name: str) -> str:
        """RUNNING or STOPPED, as the sensor's toggle shows it."""
        result = self.query(SENSOR_STATUS, self._sensor_selector(name))["sensorOrError"]
        assert result["__typename"] == "Sensor", result
        return result["sensorState"]["status"]

    def start_sensor(self, name: str) -> None:
        """Turn the sensor on, as its toggle in the UI does."""
        result = self.query(START_SENSOR, self._sensor_selector(name))["startSensor"]
        assert result["__typename"] == "Sensor" and result["sensorState"]["status"] == "RUNNING", result

    def asset_keys(self) -> set[str]:
        return {"/".join(node["assetKey"]["path"]) for node in self.query(ASSET_NODES)["assetNodes"]}
