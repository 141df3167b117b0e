"""Launch cost: what a run pays before and around its work when launched the way users launch it.

1. Import of the code location in a fresh process (`import airbyte_platform.definitions`), median of
   `--imports` runs, against the floor every Dagster process pays: `import dagster`. Target <= 3 s.
2. The production topology of `make dev` (PostgreSQL storage, queued runs, a process per run, the
   forkserver step executor) in a temporary folder: `stripe_datalake_pipeline` launched through the
   webserver's GraphQL API; time from the launch request to the first step's start, and the wall
   time from the launch request to SUCCESS.
3. Baseline in the same run: the same job in-process (`execute_in_process`, what `make demo` does),
   on the same data sizes, in a fresh home. Ratio UI path / in-process; target <= 1.5.

Usage: .venv/bin/python bench/launch.py [--imports N]
Writes the `launch` key of bench/results.json (merged: the other benchmarks' keys stay).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_file import merge_results

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # runnable as a plain script from any directory

JOB = "stripe_datalake_pipeline"
TARGETS = {"import_seconds": 3.0, "ui_over_in_process": 1.5}
IN_PROCESS = """
import sys, time
import dagster as dg
from airbyte_platform.definitions import defs
job = defs.resolve_job_def(sys.argv[1])
started = time.monotonic()
result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
print("SECONDS", time.monotonic() - started, result.success)
"""


def fresh_import_seconds(module: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, capture_output=True, cwd=PROJECT)
    return time.monotonic() - started


def in_process_seconds(home: Path) -> float:
    env = {**os.environ, "AIRBYTE_PLATFORM_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    output = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, JOB],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("SECONDS"))
    _, seconds, success = line.split()
    if success != "True":
        raise RuntimeError(f"{JOB} failed in-process")
    return float(seconds)


def ui_path() -> dict[str, float]:
    import dagster as dg

    from airbyte_platform_tests.topology.process import running_topology

    with running_topology() as topology:
        launched = time.time()
        run_id = topology.ui.launch(JOB)
        status = topology.ui.wait([run_id], timeout=900)[run_id]
        finished = time.time()
        if status != "SUCCESS":
            raise RuntimeError(f"{JOB} through the UI path ended {status}:\n{topology.log_tail()}")
        instance = topology.instance()
        starts = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        first_step = min(record.timestamp for record in starts)
        return {"launch_to_first_step_seconds": first_step - launched, "ui_wall_seconds": finished - launched}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--imports", type=int, default=5)
    args = parser.parse_args()

    dagster_floor = statistics.median(fresh_import_seconds("dagster") for _ in range(args.imports))
    definitions = statistics.median(
        fresh_import_seconds("airbyte_platform.definitions") for _ in range(args.imports)
    )
    ui = ui_path()
    with tempfile.TemporaryDirectory(prefix="launch-in-process-") as home:
        os.chmod(home, 0o755)  # pgserver runs PostgreSQL as its own user under root
        in_process = in_process_seconds(Path(home))
        from airbyte_platform.local_services.postgres import stop_local_postgres_under

        stop_local_postgres_under(Path(home))
    ratio = ui["ui_wall_seconds"] / in_process
    figures: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": "python bench/launch.py",
        # Shared machines: the load says how far the timings are from a quiet run's.
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "import_definitions_seconds": round(definitions, 2),
        "import_dagster_seconds_baseline": round(dagster_floor, 2),
        "launch_to_first_step_seconds": round(ui["launch_to_first_step_seconds"], 1),
        "ui_path_wall_seconds": round(ui["ui_wall_seconds"], 1),
        "in_process_wall_seconds_baseline": round(in_process, 1),
        "ui_over_in_process": round(ratio, 2),
        "targets": TARGETS,
        "met": {
            "import_seconds": definitions <= TARGETS["import_seconds"],
            "ui_over_in_process": ratio <= TARGETS["ui_over_in_process"],
        },
    }
    merge_results("launch", figures)
    for key, value in figures.items():
        print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
