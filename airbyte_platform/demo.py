"""`make demo`: run the main pipeline (stripe_datalake_pipeline) on the embedded default and summarize.

The run is recorded in the Dagster instance of $DAGSTER_HOME (set by the Makefile), so the UI of
`make dev` shows it afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg

MAIN_JOB = "stripe_datalake_pipeline"


def _instance() -> dg.DagsterInstance:
    try:
        return dg.DagsterInstance.get()
    except Exception:  # DAGSTER_HOME unset (its error type is private): keep the run in memory
        return dg.DagsterInstance.ephemeral()


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", default=MAIN_JOB, help="job (Airflow DAG id) to run; default %(default)s")
    args = parser.parse_args(argv)

    from airbyte_platform.definitions import defs

    job = defs.resolve_job_def(args.job)
    started = time.monotonic()
    print(f"Running {args.job} on the embedded default (local mode)…", flush=True)
    result = job.execute_in_process(instance=_instance(), raise_on_error=False)
    print("\n".join(summarize(result)))
    verdict = "succeeded" if result.success else "FAILED"
    print(f"\n{args.job} {verdict} in {time.monotonic() - started:.1f}s (run id {result.run_id})")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
