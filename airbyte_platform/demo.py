"""`make demo`: run the main pipeline (stripe_datalake_pipeline) on the embedded default and summarize.

The run is recorded in the local Dagster instance ($DAGSTER_HOME, PostgreSQL storage as in `make dev`),
so the UI of `make dev` shows it afterwards. Output: one line per finished step while it runs, then a
table of what was materialized and the checks; the event log stays in the instance. The local
PostgreSQL servers this command started are stopped when it ends.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid

import dagster as dg

MAIN_JOB = "stripe_datalake_pipeline"
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
STEP_EVENTS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}


def summarize(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = ["", f"{'asset':<34} {'rows':>10}  {'records synced':>14}  {'seconds':>8}", "-" * 72]
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        assert materialization is not None
        meta = materialization.metadata
        row_count, synced, seconds = (
            "" if meta.get(name) is None else str(meta[name].value)
            for name in ("dagster/row_count", "records_synced", "duration_seconds")
        )
        lines.append(
            f"{materialization.asset_key.to_user_string():<34} {row_count:>10}  {synced:>14}  {seconds:>8}"
        )
    evaluations = result.get_asset_check_evaluations()
    passed = sum(1 for e in evaluations if e.passed)
    lines += ["", f"checks: {passed}/{len(evaluations)} passed"]
    lines += [
        f"  FAILED {e.asset_key.to_user_string()}:{e.check_name} {e.description or ''}"
        for e in evaluations
        if not e.passed
    ]
    return lines


def step_line(event: dg.DagsterEvent, started: float) -> str:
    ok = event.event_type == dg.DagsterEventType.STEP_SUCCESS
    data = event.event_specific_data
    seconds = getattr(data, "duration_ms", None)
    took = f"{seconds / 1000:6.1f}s" if seconds is not None else "       "
    return f"  [{time.monotonic() - started:6.1f}s] {'ok  ' if ok else 'FAIL'} {event.step_key} {took}"


class StepProgress(threading.Thread):
    """Prints each finished step of `run_id` from the instance's event log (one line per step)."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, started: float):
        super().__init__(daemon=True)
        self.instance, self.run_id, self.started = instance, run_id, started
        self.done = threading.Event()
        self.printed = 0

    def poll(self) -> None:
        records = self.instance.all_logs(self.run_id, of_type=STEP_EVENTS)
        for record in records[self.printed :]:
            if record.dagster_event is not None:
                print(step_line(record.dagster_event, self.started), flush=True)
        self.printed = len(records)

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.poll()
        self.poll()


def _instance() -> dg.DagsterInstance:
    from airbyte_platform.local_services.instance import dagster_home_from, prepare_local_instance
    from airbyte_platform.settings import get_settings

    try:
        home = dagster_home_from()
    except RuntimeError:  # outside make: keep the run in memory
        return dg.DagsterInstance.ephemeral()
    prepare_local_instance(get_settings(), home)
    return dg.DagsterInstance.get()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", default=MAIN_JOB, help="job (Airflow DAG id) to run; default %(default)s")
    args = parser.parse_args(argv)

    from airbyte_platform.definitions import defs
    from airbyte_platform.local_services.postgres import stop_servers_started_here

    started = time.monotonic()
    try:
        job = defs.resolve_job_def(args.job)
        with _instance() as instance:
            run_id = str(uuid.uuid4())
            print(f"Running {args.job} on the embedded default (local mode), run {run_id}…", flush=True)
            progress = StepProgress(instance, run_id, started)
            progress.start()
            try:
                result = job.execute_in_process(
                    instance=instance, raise_on_error=False, run_id=run_id, run_config=QUIET_CONSOLE
                )
            finally:
                progress.done.set()
                progress.join()
        print("\n".join(summarize(result)))
        verdict = "succeeded" if result.success else "FAILED"
        print(f"\n{args.job} {verdict} in {time.monotonic() - started:.1f}s (run id {result.run_id})")
        return 0 if result.success else 1
    finally:
        stop_servers_started_here()


if __name__ == "__main__":
    sys.exit(main())
