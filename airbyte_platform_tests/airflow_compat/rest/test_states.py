"""Airflow states from Dagster statuses, and the trigger body's rules, without a webserver."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airbyte_platform.airflow_compat.dags import dag_named
from airbyte_platform.airflow_compat.rest.dagster_api import PlannedWork
from airbyte_platform.airflow_compat.rest.payloads import steps_of_task
from airbyte_platform.airflow_compat.rest.problems import ApiProblem
from airbyte_platform.airflow_compat.rest.states import DAG_RUN_STATES, dag_run_state, task_state
from airbyte_platform.airflow_compat.rest.trigger_request import parse_trigger_request

from .spec import spec_enum

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_every_dagster_run_status_maps_to_a_state_of_the_spec():
    from dagster import DagsterRunStatus

    allowed = spec_enum("DagState")
    assert {status.value for status in DagsterRunStatus} == set(DAG_RUN_STATES)
    assert set(DAG_RUN_STATES.values()) <= allowed
    assert dag_run_state("CANCELED") == "failed" and dag_run_state("QUEUED") == "queued"
    with pytest.raises(ValueError, match="unknown Dagster run status"):
        dag_run_state("EXPLODED")


@pytest.mark.parametrize(
    ("run_status", "steps", "expected"),
    [
        ("STARTED", [], None),  # nothing in the run does this task's work
        ("SUCCESS", ["SUCCESS", "SUCCESS"], "success"),
        ("STARTED", ["SUCCESS", "IN_PROGRESS"], "running"),
        ("FAILURE", ["SUCCESS", "FAILURE"], "failed"),
        ("FAILURE", [None], "upstream_failed"),  # its input failed, so it never started
        ("CANCELED", [None], "upstream_failed"),
        ("QUEUED", [None], "queued"),
        ("STARTED", [None], "scheduled"),
        ("SUCCESS", ["SKIPPED"], "skipped"),
        ("SUCCESS", ["SUCCESS", "SKIPPED"], "success"),
    ],
)
def test_task_state_from_its_steps(run_status, steps, expected):
    allowed = spec_enum("TaskState")
    state = task_state(run_status, steps)
    assert state == expected and state in allowed


def test_a_task_is_done_by_the_steps_of_its_assets_and_checks():
    dag = dag_named("stripe_etl_validated")
    sync_keys = [tuple(k.path) for k in dag.tasks["sync_stripe"].assets]
    planned = PlannedWork(
        asset_steps={**dict.fromkeys(sync_keys, "sync_step"), ("snowflake", "revenue_analytics"): "revenue"},
        check_steps={
            (sync_keys[0], "min_records"): "min_records_step",
            (sync_keys[0], "gx_suite"): "gx_step",
        },
    )
    assert steps_of_task(dag.tasks["sync_stripe"], planned) == ["sync_step"]
    assert steps_of_task(dag.tasks["validate_min_records"], planned) == ["min_records_step"]
    assert steps_of_task(dag.tasks["validate_data_quality"], planned) == ["gx_step"]
    assert steps_of_task(dag.tasks["transform_data"], planned) == ["revenue"]
    # A task whose work happens outside any step (the sensor's part of event_driven_sync) has none.
    assert steps_of_task(dag_named("event_driven_sync").tasks["wait_for_stripe_webhook"], planned) == []


def test_trigger_defaults_follow_airflow():
    request = parse_trigger_request({}, NOW)
    assert request.dag_run_id == "manual__2026-12-04T12:00:00+00:00"
    assert (request.logical_date, request.conf, request.note) == (NOW, {}, None)
    naive = parse_trigger_request({"logical_date": "2026-01-02T03:04:05", "conf": {"a": 1}}, NOW)
    assert naive.logical_date == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # naive dates are UTC
    zulu = parse_trigger_request({"execution_date": "2026-01-02T03:04:05Z"}, NOW)
    assert zulu.logical_date == naive.logical_date


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"state": "success"}, "'state': ['Unknown field.']"),
        ({"conf": [1]}, "conf must be a JSON object"),
        ({"dag_run_id": "has space"}, "does not match the configured pattern"),
        ({"logical_date": "yesterday"}, "Not a valid datetime"),
        ({"logical_date": "2026-01-01T00:00:00Z", "execution_date": "2026-01-02T00:00:00Z"}, "conflicts"),
        ({"note": 5}, "'note'"),
        ({"conf": {"blob": "x" * 70_000}}, "larger than"),
    ],
)
def test_bad_trigger_bodies_say_what_to_fix(body, message):
    with pytest.raises(ApiProblem) as raised:
        parse_trigger_request(body, NOW)
    assert raised.value.status == 400 and message in raised.value.detail


@pytest.mark.parametrize(
    ("run_status", "fallback", "expected"),
    [
        # primary_sync's step succeeds either way (a spent primary hands its failure on); a fallback
        # that ran means the primary failed, as Airflow shows it.
        (
            "SUCCESS",
            "SKIPPED",
            {"primary_sync": "success", "fallback_sync": "skipped", "validate_sync": "success"},
        ),
        (
            "SUCCESS",
            "SUCCESS",
            {"primary_sync": "failed", "fallback_sync": "success", "validate_sync": "success"},
        ),
        (
            "FAILURE",
            "FAILURE",
            {"primary_sync": "failed", "fallback_sync": "failed", "validate_sync": "upstream_failed"},
        ),
    ],
)
def test_resilient_sync_task_states_follow_airflows_trigger_rules(run_status, fallback, expected):
    from airbyte_platform.airflow_compat.rest.dagster_api import RunInfo, StepStat
    from airbyte_platform.airflow_compat.rest.payloads import task_instance_payloads

    validate = "SUCCESS" if run_status == "SUCCESS" else None
    run = RunInfo(
        run_id="r1",
        job_name="resilient_sync",
        status=run_status,
        tags={},
        creation_time=1.0,
        start_time=1.0,
        end_time=2.0,
        update_time=2.0,
        step_stats=tuple(
            StepStat(step, status, 1.0, 2.0 if status else None, 1)
            for step, status in (
                ("primary_sync", "SUCCESS"),
                ("fallback_sync", fallback),
                ("validate_sync", validate),
            )
            if status
        ),
    )
    payloads = task_instance_payloads(dag_named("resilient_sync"), run, PlannedWork())
    assert {p["task_id"]: p["state"] for p in payloads} == expected
    assert {p["task_id"]: p["rendered_fields"]["dagster_steps"] for p in payloads} == {
        "primary_sync": ["primary_sync"],
        "fallback_sync": ["fallback_sync"],
        "validate_sync": ["validate_sync"],
    }
