"""Run one Airbyte job to completion: trigger or attach, poll adaptively, cancel when we stop waiting.

Exactly one job per request, even through faults:
- a job already running for the connection is attached to (dagster-airbyte fails unless
  `poll_previous_running_sync`), and a 409 on trigger means the same;
- `POST /jobs` is not retried blindly (the client sends it once): after a transient failure the
  recent jobs are listed first, and a job that appeared since (our lost response) is adopted
  instead of starting a second one. Only then is it sent again, after the client's own backoff
  (or the server's Retry-After), waited on the runner's clock.

While waiting, polling errors are retried for up to `outage_tolerance` seconds (the sync keeps
running in Airbyte whatever happens to the API). A job this run started is cancelled when the run
is terminated (SIGTERM/SIGINT surface as BaseExceptions in the op) or when `poll_timeout` is
exceeded — never because the API was briefly unreachable: a retried run attaches to the
still-running job instead. A job the run only attached to (started by Airbyte's scheduler, the
UI or another run) is never cancelled: the run stops waiting, says so, and leaves it running.

A job that ends failed carries Airbyte's own failure reason (the config API's attempt failure
summary: origin, type, message) and the connection's name into the error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg

from airbyte_platform.ingestion.airbyte_server.client import ResilientAirbyteClient
from airbyte_platform.ingestion.airbyte_server.errors import (
    AirbyteConflictError,
    AirbyteRetriesExhaustedError,
    AirbyteTransientError,
    exhausted_error,
)
from airbyte_platform.ingestion.airbyte_server.polling import (
    Clock,
    PollSchedule,
    SystemClock,
    expected_duration,
)

ACTIVE_STATUSES = frozenset({"pending", "running", "incomplete"})
Job = Mapping[str, Any]


class AirbyteJobFailedError(dg.Failure):
    """The Airbyte job ended failed or cancelled (a run retry may help: it starts a new job)."""


class AirbyteJobTimeoutError(dg.Failure):
    """We stopped waiting (poll_timeout); the job has been cancelled."""


class AirbyteJobPendingError(AirbyteJobTimeoutError):
    """The job stayed `pending` (no Airbyte worker took it) past `pending_timeout`; it has been cancelled."""


# The seeds' troubleshooting for a job stuck in "pending" (001, "Job se queda en pending").
PENDING_HINT = (
    "no Airbyte worker has picked it up: check that workers are available "
    "(kubectl get pods -n integration -l app=airbyte,component=worker) and that the cluster has "
    "free CPU and memory for them"
)


@dataclass(frozen=True)
class FinishedJob:
    job: Job
    attached: bool  # True when the job was started by someone else (schedule, UI, an earlier run)
    polls: int  # GET /jobs/{id} calls while waiting
    expected_seconds: float | None
    noticed_at: float  # clock time at which the terminal status was seen

    @property
    def job_id(self) -> int:
        return int(self.job["jobId"])


class AirbyteJobRunner:
    def __init__(
        self,
        client: ResilientAirbyteClient,
        *,
        log: logging.Logger | dg.DagsterLogManager,
        schedule: PollSchedule | None = None,
        clock: Clock | None = None,
        poll_timeout: float | None = None,
        outage_tolerance: float = 900.0,
        cancel_on_termination: bool = True,
        job_url: Callable[[int], str] = str,
        connection_name: str | None = None,
        pending_timeout: float | None = None,
    ):
        self.client = client
        self.log = log
        self.schedule = schedule or PollSchedule()
        self.clock = clock or SystemClock()
        self.poll_timeout = poll_timeout
        self.outage_tolerance = outage_tolerance
        self.cancel_on_termination = cancel_on_termination
        self.job_url = job_url
        self.connection_name = connection_name
        # A job pending this long is reported and cancelled well before `poll_timeout`: with no
        # worker it would never start, and the seeds' 24-hour wait only hid that.
        self.pending_timeout = pending_timeout

    def _connection_label(self, connection_id: str) -> str:
        return f"{self.connection_name!r} ({connection_id})" if self.connection_name else connection_id

    def run(
        self, connection_id: str, job_type: str = "sync", not_found_hint: str | None = None
    ) -> FinishedJob:
        job, attached, expected = self.start_or_attach(connection_id, job_type, not_found_hint)
        return self.wait(job, attached=attached, expected=expected)

    # --- starting ------------------------------------------------------------------------------
    def start_or_attach(
        self, connection_id: str, job_type: str, not_found_hint: str | None
    ) -> tuple[Job, bool, float | None]:
        recent = self.client.list_recent_jobs(connection_id)
        expected = expected_duration(recent, job_type)
        max_retries = self.client.retry.max_retries
        failure: AirbyteTransientError | None = None
        for failures in range(max_retries + 1):
            active = _first_active(recent)
            if active is not None and active.get("jobType") == job_type:
                self.log.info(
                    f"Airbyte {job_type} job {active['jobId']} is already {active['status']} for connection "
                    f"{connection_id}: attaching to it instead of starting another ({self.job_url(int(active['jobId']))})"
                )
                return active, True, expected
            if active is not None:
                self.log.info(
                    f"Airbyte {active.get('jobType')} job {active['jobId']} is running for connection "
                    f"{connection_id}: waiting for it before starting the {job_type}"
                )
                self._wait_quietly(active)
                recent = self.client.list_recent_jobs(connection_id)
                continue
            known = {job.get("jobId") for job in recent}
            try:
                job = self.client.trigger_job(connection_id, job_type, not_found_hint=not_found_hint)
            except AirbyteConflictError:
                self.log.info(
                    f"Airbyte answered 409 for connection {connection_id}: looking for the running job"
                )
                recent = self.client.list_recent_jobs(connection_id)
                continue
            except AirbyteTransientError as exc:
                failure = exc
                wait = self.client.backoff(failures + 1, exc.retry_after)
                self.log.warning(
                    f"triggering a {job_type} of connection {connection_id} failed transiently ({exc}); "
                    f"checking whether the job was created anyway, then retrying in {wait:.2f}s"
                )
                self.clock.sleep(wait)
                recent = self.client.list_recent_jobs(connection_id)
                created = [j for j in recent if j.get("jobId") not in known and j.get("jobType") == job_type]
                if created:
                    self.log.info(f"the lost trigger had created Airbyte job {created[0]['jobId']}: using it")
                    return created[0], False, expected
                continue
            self.log.info(
                f"started Airbyte {job_type} job {job['jobId']} for connection {connection_id} "
                f"({self.job_url(int(job['jobId']))})"
            )
            return job, False, expected
        raise exhausted_error(
            "POST",
            f"{self.client.rest_api_base_url}/jobs",
            f"could not start a {job_type} of connection {connection_id} ({failure})",
            attempts=max_retries + 1,
            unreachable=failure is not None and failure.unreachable,
        )

    # --- waiting -------------------------------------------------------------------------------
    def wait(self, job: Job, *, attached: bool = False, expected: float | None = None) -> FinishedJob:
        job_id = int(job["jobId"])
        started = _epoch(job.get("startTime")) or self.clock.now()
        waiting_since = self.clock.now()
        last_success = waiting_since
        # The schedule's interval runs from the start of the previous look at the job, so the time
        # a request takes does not add to it ("noticed within max_interval + one request"); a slow
        # server still gets at least `min_interval` of rest between two requests.
        looked_at = waiting_since
        polls = 0
        status = str(job["status"])
        pending_since = waiting_since
        try:
            while status in ACTIVE_STATUSES:
                now = self.clock.now()
                if (
                    status == "pending"
                    and self.pending_timeout is not None
                    and now - pending_since >= self.pending_timeout
                ):
                    self.log.error(
                        f"Airbyte job {job_id} pending for {now - pending_since:.0f}s: {PENDING_HINT}"
                    )
                    raise AirbyteJobPendingError(
                        description=f"Airbyte job {job_id} still pending after {now - pending_since:.0f}s "
                        f"(limit {self.pending_timeout:.0f}s): {PENDING_HINT}. Cancelled ({self.job_url(job_id)})",
                        metadata={
                            "airbyte/job_id": job_id,
                            "airbyte/pending_seconds": round(now - pending_since, 1),
                            "airbyte/job_url": dg.MetadataValue.url(self.job_url(job_id)),
                        },
                    )
                if self.poll_timeout is not None and now - waiting_since >= self.poll_timeout:
                    fate = "left running (this run did not start it)" if attached else "cancelled"
                    raise AirbyteJobTimeoutError(
                        description=f"Airbyte job {job_id} still {status} after {self.poll_timeout:.0f}s: "
                        f"{fate} ({self.job_url(job_id)})",
                        metadata={"airbyte/job_id": job_id, "airbyte/attached_to_running_job": attached},
                    )
                delay = self.schedule.next_delay(looked_at - started, expected)
                self.clock.sleep(max(looked_at + delay - now, self.schedule.min_interval))
                looked_at = self.clock.now()
                try:
                    job = self.client.get_job(job_id)
                except AirbyteRetriesExhaustedError as exc:
                    if self.clock.now() - last_success > self.outage_tolerance:
                        raise
                    self.log.warning(
                        f"Airbyte unreachable while waiting for job {job_id} ({exc}); still waiting"
                    )
                    # A full interval after the failed retries, not an immediate new round of them.
                    looked_at = self.clock.now()
                    continue
                polls += 1
                last_success = self.clock.now()
                if job["status"] != status:
                    self.log.info(f"Airbyte job {job_id}: {status} -> {job['status']}")
                    pending_since = self.clock.now()
                status = str(job["status"])
        except BaseException as exc:
            stopped_waiting = not isinstance(exc, Exception) or isinstance(exc, AirbyteJobTimeoutError)
            if status in ACTIVE_STATUSES and self.cancel_on_termination and stopped_waiting:
                if attached:
                    self.log.warning(
                        f"stopped waiting for Airbyte job {job_id} ({type(exc).__name__}); it was already "
                        f"running when this run attached to it, so it is left running: {self.job_url(job_id)}"
                    )
                else:
                    self._cancel(job_id, reason=type(exc).__name__)
            raise
        finished = FinishedJob(
            job=job, attached=attached, polls=polls, expected_seconds=expected, noticed_at=self.clock.now()
        )
        if status != "succeeded":
            raise self._failure(job, job_id, status)
        return finished

    def _failure(self, job: Job, job_id: int, status: str) -> AirbyteJobFailedError:
        connection = self._connection_label(str(job.get("connectionId")))
        reason = self.client.get_job_failure(job_id) if status == "failed" else None
        metadata: dict[str, dg.RawMetadataValue] = {
            "airbyte/job_id": job_id,
            "airbyte/status": status,
            "airbyte/job_url": dg.MetadataValue.url(self.job_url(job_id)),
        }
        if reason is not None:
            metadata["airbyte/failure_reason"] = reason.summary
            if reason.origin:
                metadata["airbyte/failure_origin"] = reason.origin
        because = f": {reason.summary}." if reason is not None else "."
        return AirbyteJobFailedError(
            description=f"Airbyte {job.get('jobType', 'sync')} job {job_id} of connection {connection} "
            f"ended {status}{because} See its logs at {self.job_url(job_id)}",
            metadata=metadata,
        )

    def _wait_quietly(self, job: Job) -> None:
        """Wait for someone else's job to end, whatever its outcome, without cancelling it."""
        runner = AirbyteJobRunner(
            self.client,
            log=self.log,
            schedule=self.schedule,
            clock=self.clock,
            poll_timeout=self.poll_timeout,
            outage_tolerance=self.outage_tolerance,
            cancel_on_termination=False,
            job_url=self.job_url,
            pending_timeout=None,  # someone else's job: waited for, never judged
        )
        with contextlib.suppress(AirbyteJobFailedError):
            runner.wait(job)

    def _cancel(self, job_id: int, reason: str) -> None:
        try:
            self.client.cancel_job(job_id)
            self.log.warning(f"cancelled Airbyte job {job_id} ({reason})")
        except Exception as exc:
            self.log.error(
                f"could not cancel Airbyte job {job_id} ({exc}): cancel it in the Airbyte UI: {self.job_url(job_id)}"
            )


def _first_active(jobs: list[Job]) -> Job | None:
    return next((job for job in jobs if job.get("status") in ACTIVE_STATUSES), None)


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
