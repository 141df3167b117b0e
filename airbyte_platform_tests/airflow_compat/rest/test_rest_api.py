"""The Airflow REST API facade over HTTP, in the production topology in miniature: a gRPC code server
with the real DAG jobs, schedules and sensors, the Dagster webserver, the daemon with the queued run
coordinator, and the facade started by its own command. Callers are plain `requests` calls, as curl
or Airflow's client would make them, and every request and response is validated against Airflow's
published v1.yaml.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from airbyte_platform.airflow_compat.dags import DAG_IDS, dag_named
from airbyte_platform.airflow_compat.rest.dagster_api import DagsterWebserver

from .spec import PROBLEM_JSON, validated
from .topology import PASSWORD, USERNAME, Topology, running_topology

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow_rest")]
AUTH = (USERNAME, PASSWORD)
RUN_TIMEOUT_SECONDS = 180.0


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with running_topology(tmp_path_factory.mktemp("airflow_rest")) as running:
        yield running


class Caller:
    """An Airflow REST client as callers write one: requests with HTTP Basic auth."""

    def __init__(self, topology: Topology):
        self.base = f"{topology.facade_url}/api/v1"
        self.dagster = DagsterWebserver(topology.webserver_url)  # to check what really happened
        self.topology = topology

    def call(self, method: str, path: str, auth: Any = AUTH, **kwargs: Any) -> requests.Response:
        return validated(requests.request(method, f"{self.base}{path}", auth=auth, timeout=60, **kwargs))

    def trigger(self, dag_id: str, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def wait_finished(self, dag_id: str, dag_run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while True:
            run = self.call("GET", f"/dags/{dag_id}/dagRuns/{dag_run_id}").json()
            if run["state"] in ("success", "failed"):
                return run
            assert time.monotonic() < deadline, (
                f"{dag_id}/{dag_run_id} still {run['state']}\n{self.topology.log_tail()}"
            )
            time.sleep(0.5)

    def tasks(self, dag_id: str, dag_run_id: str) -> dict[str, dict[str, Any]]:
        body = self.call("GET", f"/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances").json()
        assert body["total_entries"] == len(body["task_instances"])
        return {ti["task_id"]: ti for ti in body["task_instances"]}


@pytest.fixture(scope="module")
def caller(topology: Topology) -> Caller:
    return Caller(topology)


@pytest.fixture(scope="module")
def launched(caller: Caller) -> dict[str, str]:
    """Runs started once for the module, so their steps execute while other tests check other things."""
    validated_run = caller.trigger(
        "stripe_etl_validated",
        {
            "dag_run_id": "etl-2026-12-04",
            "conf": {"requested_by": "ci"},
            "note": "nightly from CI",
            "logical_date": "2026-12-04T00:00:00+00:00",
        },
    )
    failing_run = caller.trigger(
        "stripe_datalake_pipeline", {"dag_run_id": "lake-fails", "conf": {"fail": ["sync_stripe_to_s3"]}}
    )
    assert (validated_run.status_code, failing_run.status_code) == (200, 200), (
        validated_run.text + failing_run.text
    )
    return {"stripe_etl_validated": "etl-2026-12-04", "stripe_datalake_pipeline": "lake-fails"}


@pytest.mark.timeout(600)  # the topology's start and the daemon's first heartbeats, on a loaded machine
def test_health_needs_no_credentials_and_reports_dagster_parts(caller):
    # The daemon writes its first heartbeats some seconds after starting, minutes on a loaded machine:
    # wait for them (bounded).
    deadline = time.monotonic() + 300
    while True:
        health = caller.call("GET", "/health", auth=None).json()
        if health["scheduler"]["status"] == health["triggerer"]["status"] == "healthy":
            break
        assert time.monotonic() < deadline, f"the daemon never reported healthy: {health}"
        time.sleep(1)
    assert health["metadatabase"] == {"status": "healthy"}
    assert health["dag_processor"]["status"] == "healthy"  # the code location loaded
    assert (
        health["scheduler"]["latest_scheduler_heartbeat"]
        and health["triggerer"]["latest_triggerer_heartbeat"]
    )


def test_every_documented_dag_is_listed_with_its_schedule(caller, launched):
    body = caller.call("GET", "/dags").json()
    assert body["total_entries"] == len(DAG_IDS) == 10
    dags = {dag["dag_id"]: dag for dag in body["dags"]}
    assert set(dags) == set(DAG_IDS)
    assert dags["airbyte_stripe_to_postgres"]["schedule_interval"] == {
        "__type": "CronExpression",
        "value": "0 */6 * * *",
    }
    assert dags["postgres_cdc_replication"]["schedule_interval"]["value"] == "*/10 * * * *"
    assert dags["parallel_syncs"]["schedule_interval"] is None
    assert all(dag["is_active"] for dag in dags.values())
    # Locally the schedules start stopped, as Airflow DAGs start paused; inbox sensors start running.
    assert dags["airbyte_stripe_to_postgres"]["is_paused"] is True
    assert dags["event_driven_sync"]["is_paused"] is False

    second = caller.call("GET", "/dags", params={"limit": 3, "offset": 3}).json()
    assert [d["dag_id"] for d in second["dags"]] == sorted(DAG_IDS)[3:6] and second["total_entries"] == 10
    only = caller.call("GET", "/dags", params={"dag_id_pattern": "stripe"}).json()
    assert {d["dag_id"] for d in only["dags"]} == {d for d in DAG_IDS if "stripe" in d}


@pytest.mark.parametrize(
    "auth", [None, (USERNAME, "wrong-password"), ("someone-else", PASSWORD)], ids=["none", "password", "user"]
)
def test_wrong_or_missing_credentials_get_airflows_401(caller, auth):
    response = caller.call("GET", "/dags", auth=auth)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Basic"
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["title"] == "Unauthorized"
    assert PASSWORD not in response.text


def test_unknown_dags_and_runs_are_404_problems(caller):
    missing = caller.call("GET", "/dags/no_such_dag")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_JSON
    assert missing.json()["detail"] == "DAG with dag_id: 'no_such_dag' not found"
    run = caller.call("GET", "/dags/parallel_syncs/dagRuns/never-triggered")
    assert run.status_code == 404 and "never-triggered" in run.json()["detail"]
    # Not part of the subset: Airflow's 404 format, never an HTML page.
    unserved = requests.get(f"{caller.base}/variables", auth=AUTH, timeout=10)
    assert unserved.status_code == 404 and unserved.json()["status"] == 404


def _instigators_running(caller: Caller, dag_id: str) -> dict[str, bool]:
    return {i.name: i.running for i in caller.dagster.jobs()[dag_id].instigators}


def test_pausing_a_dag_stops_its_schedules_and_sensors_and_unpausing_starts_them(caller):
    assert _instigators_running(caller, "airbyte_stripe_to_postgres") == {
        "airbyte_stripe_to_postgres_schedule": False
    }
    unpaused = caller.call("PATCH", "/dags/airbyte_stripe_to_postgres", json={"is_paused": False})
    assert unpaused.status_code == 200 and unpaused.json()["is_paused"] is False
    assert unpaused.json()["next_dagrun"] is not None  # the running schedule's next tick
    assert _instigators_running(caller, "airbyte_stripe_to_postgres") == {
        "airbyte_stripe_to_postgres_schedule": True
    }

    # A DAG run by a schedule and sensors: every one of them stops, and starts again.
    cdc = "postgres_cdc_replication"
    paused = caller.call(
        "PATCH", f"/dags/{cdc}", params={"update_mask": "is_paused"}, json={"is_paused": True}
    )
    assert paused.json()["is_paused"] is True
    assert (
        set(_instigators_running(caller, cdc).values()) == {False}
        and len(_instigators_running(caller, cdc)) == 3
    )
    assert caller.call("GET", f"/dags/{cdc}").json()["is_paused"] is True
    caller.call("PATCH", f"/dags/{cdc}", json={"is_paused": False})
    assert set(_instigators_running(caller, cdc).values()) == {True}

    caller.call("PATCH", "/dags/airbyte_stripe_to_postgres", json={"is_paused": True})
    assert _instigators_running(caller, "airbyte_stripe_to_postgres") == {
        "airbyte_stripe_to_postgres_schedule": False
    }


def test_pausing_a_dag_nothing_starts_automatically_is_refused_with_the_reason(caller):
    response = caller.call("PATCH", "/dags/parallel_syncs", json={"is_paused": True})
    assert response.status_code == 400
    assert "no Dagster schedule or sensor" in response.json()["detail"]
    # A body the spec itself rejects, sent anyway: the same 400 problem, nothing changed.
    bad = requests.patch(
        f"{caller.base}/dags/airbyte_stripe_to_postgres", json={"is_paused": "yes"}, auth=AUTH, timeout=30
    )
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM_JSON
    assert "is_paused" in bad.json()["detail"]


def test_a_triggered_run_is_a_dagster_run_launched_like_the_ui_and_tagged(caller, launched):
    dag_run_id = launched["stripe_etl_validated"]
    [run] = caller.dagster.runs("stripe_etl_validated", {"airflow/dag_run_id": dag_run_id})
    assert run.tags["airflow/dag_id"] == "stripe_etl_validated"
    assert run.tags["airflow/logical_date"] == "2026-12-04T00:00:00+00:00"
    assert run.run_config_yaml.strip() == "{}"  # this DAG reads no conf: it is kept on the run, not executed

    finished = caller.wait_finished("stripe_etl_validated", dag_run_id)
    assert finished["state"] == "success"
    assert finished["conf"] == {"requested_by": "ci"} and finished["note"] == "nightly from CI"
    assert finished["logical_date"] == "2026-12-04T00:00:00+00:00" and finished["run_type"] == "manual"
    assert finished["start_date"] and finished["end_date"] >= finished["start_date"]

    tasks = caller.tasks("stripe_etl_validated", dag_run_id)
    assert list(tasks) == list(dag_named("stripe_etl_validated").tasks)
    assert {task_id: ti["state"] for task_id, ti in tasks.items()} == dict.fromkeys(tasks, "success")
    # Each task names the Dagster steps that did its work: the sync, each check, the transform.
    assert tasks["sync_stripe"]["rendered_fields"]["dagster_steps"] == ["sync_stripe_to_postgres"]
    assert tasks["validate_min_records"]["operator"] == "DagsterAssetCheck"
    assert (
        tasks["validate_min_records"]["rendered_fields"]["dagster_steps"]
        != tasks["validate_data_quality"]["rendered_fields"]["dagster_steps"]
    )
    assert all(ti["try_number"] == 1 and ti["duration"] is not None for ti in tasks.values())


def test_a_failed_step_fails_its_task_and_its_downstream_tasks(caller, launched):
    dag_run_id = launched["stripe_datalake_pipeline"]
    assert caller.wait_finished("stripe_datalake_pipeline", dag_run_id)["state"] == "failed"
    states = {
        task_id: ti["state"] for task_id, ti in caller.tasks("stripe_datalake_pipeline", dag_run_id).items()
    }
    assert states == {
        "sync_stripe_to_s3": "failed",
        "process_stripe_data": "upstream_failed",
        "load_to_snowflake": "upstream_failed",
    }
    failed = caller.call(
        "GET", "/dags/stripe_datalake_pipeline/dagRuns/lake-fails/taskInstances", params={"state": "failed"}
    ).json()
    assert [ti["task_id"] for ti in failed["task_instances"]] == ["sync_stripe_to_s3"]


def test_the_same_dag_run_id_never_launches_twice(caller):
    body = {"dag_run_id": "once-only", "conf": {}}
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: caller.trigger("parallel_syncs", body), range(4)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.headers["content-type"] == PROBLEM_JSON
    assert (
        conflict.json()["detail"]
        == "DAGRun with DAG ID: 'parallel_syncs' and DAGRun ID: 'once-only' already exists"
    )
    assert len(caller.dagster.runs("parallel_syncs", {"airflow/dag_run_id": "once-only"})) == 1
    # A retry minutes later is refused the same way, and so is a second run for the same logical date.
    assert caller.trigger("parallel_syncs", body).status_code == 409
    first = caller.trigger(
        "parallel_syncs", {"dag_run_id": "dated-1", "logical_date": "2026-11-01T00:00:00Z"}
    )
    second = caller.trigger(
        "parallel_syncs", {"dag_run_id": "dated-2", "logical_date": "2026-11-01T00:00:00Z"}
    )
    assert (first.status_code, second.status_code) == (200, 409)
    assert "logical date" in second.json()["detail"]


def test_runs_are_listed_with_states_and_runs_started_elsewhere_keep_their_dagster_id(caller, launched):
    job = caller.dagster.jobs()["airbyte_multi_source_sync"]
    dagster_run_id = caller.dagster.launch_run(job, {}, {})  # as a click on Launch in the UI
    listed = caller.call("GET", "/dags/airbyte_multi_source_sync/dagRuns").json()
    assert [r["dag_run_id"] for r in listed["dag_runs"]] == [dagster_run_id]
    run = caller.call("GET", f"/dags/airbyte_multi_source_sync/dagRuns/{dagster_run_id}").json()
    assert run["conf"] == {} and run["run_type"] == "manual"
    # Another DAG's run is not found under this DAG.
    assert caller.call("GET", f"/dags/parallel_syncs/dagRuns/{dagster_run_id}").status_code == 404

    caller.wait_finished("stripe_datalake_pipeline", launched["stripe_datalake_pipeline"])
    failed = caller.call("GET", "/dags/stripe_datalake_pipeline/dagRuns", params={"state": "failed"}).json()
    assert [r["dag_run_id"] for r in failed["dag_runs"]] == ["lake-fails"] and failed["total_entries"] == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"dag_run_id": "x", "state": "success"}, "Unknown field"),
        ({"dag_run_id": "bad id"}, "does not match"),
        ({"conf": "connection_id=abc"}, "conf must be a JSON object"),
    ],
)
def test_bad_trigger_bodies_are_400_problems(caller, body, fragment):
    response = requests.post(f"{caller.base}/dags/parallel_syncs/dagRuns", json=body, auth=AUTH, timeout=30)
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM_JSON
    assert fragment in response.json()["detail"]
    assert not caller.dagster.runs("parallel_syncs", {"airflow/dag_run_id": str(body.get("dag_run_id"))})


def test_event_driven_conf_is_the_run_config_and_dagster_judges_it(caller):
    rejected = caller.trigger(
        "airbyte_event_driven_sync", {"dag_run_id": "evt-bad", "conf": {"not_a_field": 1}}
    )
    assert rejected.status_code == 400
    assert "conf is not valid for DAG 'airbyte_event_driven_sync'" in rejected.json()["detail"]
    assert "not_a_field" in rejected.json()["detail"]
    assert not caller.dagster.runs("airbyte_event_driven_sync", {"airflow/dag_run_id": "evt-bad"})

    conf = {"connection_id": "stripe_to_postgres"}
    accepted = caller.trigger("airbyte_event_driven_sync", {"dag_run_id": "evt-stripe", "conf": conf})
    if accepted.status_code == 400 and "connection_id" in accepted.json()["detail"]:
        pytest.skip(
            "job airbyte_event_driven_sync takes no connection_id run config yet (the lead's ConfigMapping)"
        )
    assert accepted.status_code == 200, accepted.text
    [run] = caller.dagster.runs("airbyte_event_driven_sync", {"airflow/dag_run_id": "evt-stripe"})
    assert "connection_id: stripe_to_postgres" in run.run_config_yaml


def test_every_documented_dag_can_be_triggered_and_runs_to_success(caller):
    # airbyte_event_driven_sync takes a conf of its own (test above); every other DAG takes none.
    dag_ids = [d for d in DAG_IDS if d != "airbyte_event_driven_sync"]
    for dag_id in dag_ids:
        response = caller.trigger(dag_id, {"dag_run_id": f"all-dags-{dag_id}", "note": "smoke"})
        assert response.status_code == 200, response.text
        assert response.json()["state"] in ("queued", "running")
    for dag_id in dag_ids:
        assert caller.wait_finished(dag_id, f"all-dags-{dag_id}")["state"] == "success", dag_id
        states = {t: ti["state"] for t, ti in caller.tasks(dag_id, f"all-dags-{dag_id}").items()}
        spec = dag_named(dag_id)
        # Tasks with work in a step succeeded; tasks done outside any step have no state.
        expected = {t: ("success" if (m.assets or m.check_names) else None) for t, m in spec.tasks.items()}
        # A task that runs only after another failed (resilient_sync's fallback_sync) was skipped.
        expected.update({t: "skipped" for t, m in spec.tasks.items() if m.after_failure_of})
        assert states == expected, dag_id
