"""One Airbyte job per sync, whatever happens: attach, 409, lost responses, failures, cancellation."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import dagster as dg
import pytest

from airbyte_platform.core.catalog import connection_named
from airbyte_platform.ingestion.airbyte_server.defs import build_workspace
from airbyte_platform.ingestion.airbyte_server.errors import AirbyteUnreachableError
from airbyte_platform.ingestion.airbyte_server.jobs import (
    AirbyteJobFailedError,
    AirbyteJobRunner,
    AirbyteJobTimeoutError,
)
from airbyte_platform.ingestion.airbyte_server.polling import SystemClock
from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform_tests.airbyte_server.conftest import FAST, declared_id
from airbyte_platform_tests.airbyte_server.fake_airbyte import JobPlan

CONNECTION = declared_id(connection_named("hubspot_to_postgres"))


@pytest.fixture
def live_workspace(workspace: AirbyteServerWorkspace) -> Iterator[AirbyteServerWorkspace]:
    with workspace.process_config_and_initialize_cm() as initialized:
        yield initialized


@pytest.fixture
def runner(live_workspace: AirbyteServerWorkspace) -> AirbyteJobRunner:
    return live_workspace.job_runner(dg.get_dagster_logger(), "ws", CONNECTION)


def test_starts_one_job_and_waits_for_it(runner, airbyte_state):
    finished = runner.run(CONNECTION)
    assert finished.job["status"] == "succeeded"
    assert not finished.attached
    assert finished.polls >= 1
    assert [j.job_id for j in airbyte_state.jobs_of(CONNECTION)] == [finished.job_id]


def test_attaches_to_a_job_already_running(runner, airbyte_state, airbyte_server):
    running = airbyte_state.trigger(CONNECTION, "sync")
    finished = runner.run(CONNECTION)
    assert finished.attached and finished.job_id == running.job_id
    assert len(airbyte_state.jobs_of(CONNECTION)) == 1
    assert airbyte_server.requests["POST /jobs"] == 0


def test_a_409_race_attaches_to_the_other_trigger(runner, airbyte_state, airbyte_server):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=1.5))
    airbyte_server.faults.latency(0.4, method="POST", path="/jobs")
    other = threading.Timer(0.15, lambda: airbyte_state.trigger(CONNECTION, "sync"))
    other.start()
    finished = runner.run(CONNECTION)
    other.join()
    assert finished.attached
    assert len(airbyte_state.jobs_of(CONNECTION)) == 1
    assert airbyte_server.statuses("POST /jobs") == [409]


def test_a_lost_trigger_response_is_not_a_second_job(runner, airbyte_state, airbyte_server):
    airbyte_server.faults.drop(after=True, method="POST", path="/jobs")
    finished = runner.run(CONNECTION)
    assert finished.job["status"] == "succeeded"
    assert len(airbyte_state.jobs_of(CONNECTION)) == 1
    assert airbyte_server.requests["POST /jobs"] == 1


def test_a_trigger_that_never_arrived_is_retried(runner, airbyte_state, airbyte_server):
    airbyte_server.faults.drop(after=False, method="POST", path="/jobs")
    airbyte_server.faults.status(503, method="POST", path="/jobs")
    runner.run(CONNECTION)
    assert len(airbyte_state.jobs_of(CONNECTION)) == 1
    assert airbyte_server.requests["POST /jobs"] == 3


def test_a_refused_trigger_waits_retry_after_on_the_runner_clock(prod_settings, airbyte_server):
    clock = VirtualClock()
    patient = build_workspace(prod_settings, **{**FAST, "max_retry_after": 60.0})
    with patient.process_config_and_initialize_cm() as initialized:
        runner = initialized.job_runner(dg.get_dagster_logger(), clock=clock)
        airbyte_server.faults.status(429, method="POST", path="/jobs", retry_after=20)
        job, attached, _ = runner.start_or_attach(CONNECTION, "sync", None)
    assert not attached and job["status"] in ("pending", "running")
    assert clock.t == 1_000_000.0 + 20  # the server's wait, on the injected clock, not the wall
    assert airbyte_server.statuses("POST /jobs") == [429, 200]


def test_a_trigger_that_never_reaches_airbyte_ends_as_unreachable(
    live_workspace, airbyte_server, airbyte_state
):
    clock = VirtualClock()
    runner = live_workspace.job_runner(dg.get_dagster_logger(), clock=clock)
    airbyte_server.faults.drop(after=False, method="POST", path="/jobs", times=None)
    with pytest.raises(AirbyteUnreachableError, match="could not start a sync"):
        runner.start_or_attach(CONNECTION, "sync", None)
    attempts = live_workspace.request_max_retries + 1
    assert airbyte_server.requests["POST /jobs"] == attempts  # each only after checking for a created job
    assert airbyte_server.requests["GET /jobs"] == attempts + 1
    assert airbyte_state.jobs_of(CONNECTION) == []


def test_concurrent_syncs_of_one_connection_share_one_job(live_workspace, airbyte_state):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=0.5))
    results = []

    def sync() -> None:
        results.append(live_workspace.job_runner(dg.get_dagster_logger()).run(CONNECTION))

    threads = [threading.Thread(target=sync) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.job_id for r in results}) == 1
    assert len(airbyte_state.jobs_of(CONNECTION)) == 1


@pytest.mark.parametrize("outcome", ["failed", "cancelled"])
def test_a_job_that_does_not_succeed_fails_with_its_link(runner, airbyte_state, outcome):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=0.2, outcome=outcome))
    with pytest.raises(
        AirbyteJobFailedError, match=f"ended {outcome}.* See its logs at .*timeline\\?jobId=1"
    ):
        runner.run(CONNECTION)


def test_timeout_cancels_the_job(live_workspace, airbyte_state):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=3600))
    runner = live_workspace.job_runner(dg.get_dagster_logger())
    runner.poll_timeout = 0.3
    with pytest.raises(AirbyteJobTimeoutError):
        runner.run(CONNECTION)
    [job] = airbyte_state.jobs_of(CONNECTION)
    assert job.status(airbyte_state.clock.now()) == "cancelled"


class InterruptingClock(SystemClock):
    """Raises KeyboardInterrupt (what a terminated run raises in the op) at its third sleep."""

    def __init__(self) -> None:
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == 3:
            raise KeyboardInterrupt
        super().sleep(seconds)


def test_termination_cancels_the_job(live_workspace, airbyte_state):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=3600))
    runner = live_workspace.job_runner(dg.get_dagster_logger(), clock=InterruptingClock())
    with pytest.raises(KeyboardInterrupt):
        runner.run(CONNECTION)
    [job] = airbyte_state.jobs_of(CONNECTION)
    assert job.status(airbyte_state.clock.now()) == "cancelled"


def test_a_brief_api_outage_while_waiting_neither_fails_nor_cancels(runner, airbyte_state, airbyte_server):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=1.0))
    airbyte_server.faults.status(503, method="GET", path=r"/jobs/\d+", times=12)  # > one request's retries
    finished = runner.run(CONNECTION)
    assert finished.job["status"] == "succeeded"
    assert airbyte_server.faults.injected["status:503"] == 12


def test_a_long_api_outage_fails_without_cancelling(live_workspace, airbyte_state, airbyte_server):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=3600))
    runner = live_workspace.job_runner(dg.get_dagster_logger())
    runner.outage_tolerance = 0.3
    airbyte_server.faults.status(503, method="GET", path=r"/jobs/\d+", times=None)
    with pytest.raises(dg.Failure, match="still failing"):
        runner.run(CONNECTION)
    [job] = airbyte_state.jobs_of(CONNECTION)
    assert job.status(airbyte_state.clock.now()) == "running"  # a retried run will attach to it


def test_a_running_reset_is_waited_for_before_the_sync(runner, airbyte_state):
    reset = airbyte_state.trigger(CONNECTION, "reset")
    finished = runner.run(CONNECTION)
    assert finished.job["jobType"] == "sync" and finished.job_id != reset.job_id
    [sync] = airbyte_state.jobs_of(CONNECTION)
    assert sync.created_at >= reset.natural_end  # triggered only once the reset had ended
    assert [j.job_type for j in airbyte_state.jobs_of(CONNECTION, job_type=None)] == ["reset", "sync"]


def test_history_sets_the_expected_duration(runner, airbyte_state):
    airbyte_state.add_history(CONNECTION, [7200, 7500, 7000])
    finished = runner.run(CONNECTION)
    assert finished.expected_seconds == 7200


class VirtualClock:
    """Simulated time that only moves when slept in or advanced."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


class SlowJobsClient:
    """Stands in for the client's `get_job`: each request takes `request_seconds` of the clock."""

    def __init__(self, clock: VirtualClock, ends_at: float, request_seconds: float) -> None:
        self.clock, self.ends_at, self.request_seconds = clock, ends_at, request_seconds
        self.poll_starts: list[float] = []

    def get_job(self, job_id: int) -> dict:
        self.poll_starts.append(self.clock.now())
        self.clock.t += self.request_seconds
        return {"jobId": job_id, "status": "succeeded" if self.clock.t >= self.ends_at else "running"}


def test_request_time_does_not_stretch_the_poll_intervals():
    clock = VirtualClock()
    started = clock.now()
    client = SlowJobsClient(clock, ends_at=started + 3600, request_seconds=2.0)
    runner = AirbyteJobRunner(client, log=dg.get_dagster_logger(), clock=clock)  # type: ignore[arg-type]
    finished = runner.wait({"jobId": 1, "status": "running"})
    schedule = runner.schedule
    gaps = [b - a for a, b in itertools.pairwise(client.poll_starts)]
    # Each interval as planned, unless the request left less than `min_interval` of rest.
    planned = [
        max(schedule.next_delay(start - started), client.request_seconds + schedule.min_interval)
        for start in client.poll_starts[:-1]
    ]
    assert gaps == pytest.approx(planned)
    assert max(gaps) == pytest.approx(schedule.max_interval)
    # Noticed within one interval plus the one request that saw the end.
    assert finished.noticed_at - client.ends_at <= schedule.max_interval + client.request_seconds


def test_a_failed_job_carries_airbyte_failure_reason_and_the_connection_name(live_workspace, airbyte_state):
    reason = "Stripe API answered 401: the API key is invalid"
    airbyte_state.set_plan(
        CONNECTION,
        JobPlan(duration_seconds=0.1, outcome="failed", failure_message=reason, failure_type="config_error"),
    )
    runner = live_workspace.job_runner(
        dg.get_dagster_logger(), "ws", CONNECTION, connection_name="hubspot_to_postgres"
    )
    with pytest.raises(AirbyteJobFailedError) as raised:
        runner.run(CONNECTION)
    description = raised.value.description or ""
    assert (
        f"of connection 'hubspot_to_postgres' ({CONNECTION}) ended failed: {reason} (source, config_error)"
        in (description)
    )
    assert raised.value.metadata["airbyte/failure_reason"].value == f"{reason} (source, config_error)"
    assert raised.value.metadata["airbyte/failure_origin"].value == "source"


def test_a_failed_job_without_a_reported_reason_still_fails_clearly(runner, airbyte_state, airbyte_server):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=0.1, outcome="failed"))
    airbyte_server.faults.status(404, path="/jobs/get", times=None)  # the config API is not reachable
    with pytest.raises(AirbyteJobFailedError, match=r"ended failed\. See its logs at"):
        runner.run(CONNECTION)


def test_termination_leaves_a_job_it_only_attached_to_running(live_workspace, airbyte_state, caplog):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=3600))
    theirs = airbyte_state.trigger(CONNECTION, "sync")  # started by Airbyte's scheduler or the UI
    runner = live_workspace.job_runner(dg.get_dagster_logger(), clock=InterruptingClock())
    with pytest.raises(KeyboardInterrupt):
        runner.run(CONNECTION)
    assert theirs.status(airbyte_state.clock.now()) == "running"
    assert f"Airbyte job {theirs.job_id}" in caplog.text and "left running" in caplog.text


def test_a_timeout_leaves_a_job_it_only_attached_to_running(live_workspace, airbyte_state, airbyte_server):
    airbyte_state.set_plan(CONNECTION, JobPlan(duration_seconds=3600))
    theirs = airbyte_state.trigger(CONNECTION, "sync")
    runner = live_workspace.job_runner(dg.get_dagster_logger())
    runner.poll_timeout = 0.3
    with pytest.raises(AirbyteJobTimeoutError, match="left running"):
        runner.run(CONNECTION)
    assert theirs.status(airbyte_state.clock.now()) == "running"
    assert airbyte_server.requests["DELETE /jobs/{id}"] == 0
