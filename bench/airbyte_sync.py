"""Benchmark: noticing that an Airbyte job ended, ours vs dagster-airbyte, on the same local server.

The fake Airbyte API runs in its own process on loopback; each client runs in its own process
(like a Dagster run worker), on its own connection of the same workspace, at the same time:

- ours: `AirbyteServerWorkspace.job_runner(...).run(connection_id)`, the trigger-or-attach and
  adaptive wait that `sync_connection` runs (polling.py's schedule, the resource's defaults);
- baseline: dagster-airbyte 0.29's `AirbyteWorkspace(...).get_client().sync_and_poll(connection_id)`,
  what its `sync_and_poll` asset path runs, at its default `poll_interval` (10 s).

Scenarios:
1. a job that runs 5 s of real time (`SHORT_REPEATS` jobs in a row per client);
2. a 12-hour job, time-compressed: the server runs simulated time `--scale` times faster than real
   time (12 h in 120 s at the default 360), and both clients' clocks are compressed by the same
   factor from the same epoch: ours through the runner's injectable clock (`ScaledClock`: `now`
   and `sleep` in simulated seconds), the baseline through its own `poll_interval` setting (10 s
   of simulated time = 10 / scale real seconds). Nothing else is changed: every poll is a real
   HTTP request answered from the server's simulated job state.
   Ours runs twice: on a connection whose previous syncs took about 12 h (median 12.1 h; the
   usual case of a long sync, and what polling.py plans around) and on one with no history.

Measured per job, in simulated seconds (= real seconds for the 5 s job):
- detection latency: the client's clock when its wait returned minus the job's end at the server
  (also the server-side figure: when GET /jobs/{id} first answered the terminal status);
- polls: GET /jobs/{id} requests for that job, counted by the server.
Compression compresses request time too: a 5 ms request looks like ~2 s of simulated time, which
adds to both clients' latencies and stretches the baseline's 10 s interval (its sleep follows each
request, so it makes fewer than its nominal 43,200 / 10 = 4,320 polls; ours spaces polls from
each poll's start, so only late wake-ups stretch its intervals).

    .venv/bin/python bench/airbyte_sync.py [--scale 360] [--quick]

Merges `airbyte_sync` into bench/results.json (not with --quick) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from results_file import merge_results

from airbyte_platform_tests.airbyte_server.fake_airbyte.clock import ScaledClock
from airbyte_platform_tests.airbyte_server.fake_airbyte.process import PASSWORD, USERNAME, FakeAirbyteProcess

BENCH_DIR = Path(__file__).resolve().parent

SHORT_JOB_SECONDS = 5.0
SHORT_REPEATS = 5
LONG_JOB_SECONDS = 12 * 3600.0
DEFAULT_SCALE = 360.0  # 12 simulated hours in 120 real seconds
# The with-history connection's last five syncs, as multiples of this job's duration: 11.75 h to
# 12.4 h, median 12.1 h. The measured job (12 h) ends a little earlier than usual, as real jobs
# do, rather than exactly on the median the schedule aims at.
HISTORY_FACTORS = (11.75 / 12, 12.25 / 12, 11.9 / 12, 12.1 / 12, 12.4 / 12)
TARGETS = {"short_latency_s": 1.0, "long_latency_s": 60.0, "long_polls": 200}
QUICK = {"short_job_seconds": 2.0, "short_repeats": 1, "long_job_seconds": 2 * 3600.0, "scale": 720.0}


# --- child processes: one client each --------------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    """Run `args.repeats` syncs of one connection with one client; print one JSON line per job."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)  # the runner logs every status change; stdout carries the results

    clock = ScaledClock(args.scale, args.epoch)  # the server's simulated time, from the same epoch
    urls = {
        "rest_api_base_url": f"{args.url}/api/public/v1",
        "configuration_api_base_url": f"{args.url}/api/v1",
        "workspace_id": args.workspace,
        "username": USERNAME,
        "password": PASSWORD,
    }
    if args.child == "ours":
        from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace

        runner = AirbyteServerWorkspace(webapp_url=args.url, **urls).job_runner(
            connection_id=args.connection, clock=clock
        )

        def sync() -> tuple[int, dict[str, Any]]:
            finished = runner.run(args.connection)
            return finished.job_id, {"client_polls": finished.polls, "expected_s": finished.expected_seconds}
    else:
        from dagster_airbyte import AirbyteWorkspace

        # Its default interval in simulated seconds, slept in real seconds by `time.sleep`.
        default_interval = AirbyteWorkspace.model_fields["poll_interval"].default
        client = AirbyteWorkspace(poll_interval=default_interval / args.scale, **urls).get_client()

        def sync() -> tuple[int, dict[str, Any]]:
            output = client.sync_and_poll(args.connection)
            return int(output.job_details["jobId"]), {"poll_interval_s": default_interval}

    for _ in range(args.repeats):
        started = time.perf_counter()
        job_id, extra = sync()
        noticed_at = clock.now()
        record = {"job_id": job_id, "noticed_at": noticed_at, "real_s": time.perf_counter() - started}
        print(json.dumps(record | extra), flush=True)


def start_child(
    kind: str, server: FakeAirbyteProcess, connection: str, *, repeats: int, scale: float, epoch: float
) -> subprocess.Popen[str]:
    options = {
        "--child": kind,
        "--url": server.url,
        "--workspace": server.workspace_id,
        "--connection": connection,
        "--repeats": str(repeats),
        "--scale": repr(scale),
        "--epoch": repr(epoch),
    }
    return subprocess.Popen(
        [sys.executable, __file__, *(part for option in options.items() for part in option)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        cwd=BENCH_DIR.parent,
    )


def collect(
    name: str, process: subprocess.Popen[str], server: FakeAirbyteProcess, timeout: float
) -> list[dict[str, Any]]:
    """Each job of a child, joined with the server's view of it (end, first terminal read, polls)."""
    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{err[-3000:]}")
    jobs = []
    for line in out.strip().splitlines():
        record = json.loads(line)
        seen = server.job(record["job_id"])
        ended = seen["endedAt"]
        jobs.append(
            {
                "job_id": record["job_id"],
                "status": seen["status"],
                "job_s": round(ended - seen["createdAt"], 1),
                "latency_s": round(record["noticed_at"] - ended, 3),
                "server_latency_s": round(seen["firstTerminalReadAt"] - ended, 3),
                # The gap between the poll that last saw it running and the one that saw it end:
                # the latency's bound for this job.
                "poll_interval_at_end_s": _rounded(seen["endReadInterval"], 3),
                "polls": seen["polls"],
                "real_s": round(record["real_s"], 1),
                **{k: v for k, v in record.items() if k not in ("job_id", "noticed_at", "real_s")},
            }
        )
    return jobs


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summary(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [j["latency_s"] for j in jobs]
    polls = [j["polls"] for j in jobs]
    return {
        "jobs": len(jobs),
        "latency_s_median": round(statistics.median(latencies), 3),
        "latency_s_max": round(max(latencies), 3),
        "server_latency_s_max": round(max(j["server_latency_s"] for j in jobs), 3),
        "polls_median": statistics.median(polls),
        "polls_max": max(polls),
        "per_job": jobs,
    }


# --- scenarios ---------------------------------------------------------------------------------------
def short_jobs(job_seconds: float, repeats: int) -> dict[str, Any]:
    """Both clients at once, each on its own connection, in real time."""
    epoch = time.time()
    with FakeAirbyteProcess(2, 3, destinations=1, epoch=epoch, job_seconds=job_seconds) as server:
        ours_connection, baseline_connection = server.connection_ids()
        children = {
            "ours": start_child("ours", server, ours_connection, repeats=repeats, scale=1.0, epoch=epoch),
            "dagster_airbyte": start_child(
                "baseline", server, baseline_connection, repeats=repeats, scale=1.0, epoch=epoch
            ),
        }
        timeout = 120 + repeats * (job_seconds + 30)
        return {name: summary(collect(name, p, server, timeout)) for name, p in children.items()}


def long_jobs(job_seconds: float, scale: float) -> dict[str, Any]:
    """Ours with and without history, and the baseline, at once on one time-compressed server."""
    epoch = time.time()
    with FakeAirbyteProcess(
        3, 3, destinations=1, time_scale=scale, epoch=epoch, job_seconds=job_seconds
    ) as server:
        with_history, without_history, baseline_connection = server.connection_ids()
        history = [round(job_seconds * factor) for factor in HISTORY_FACTORS]
        server.add_history(with_history, history)
        children = {
            "ours_with_history": start_child(
                "ours", server, with_history, repeats=1, scale=scale, epoch=epoch
            ),
            "ours_without_history": start_child(
                "ours", server, without_history, repeats=1, scale=scale, epoch=epoch
            ),
            "dagster_airbyte": start_child(
                "baseline", server, baseline_connection, repeats=1, scale=scale, epoch=epoch
            ),
        }
        timeout = 300 + 2 * job_seconds / scale
        results = {name: collect(name, p, server, timeout)[0] for name, p in children.items()}
    results["ours_with_history"]["history_s"] = history
    baseline = results["dagster_airbyte"]
    baseline["nominal_polls"] = round(job_seconds / baseline["poll_interval_s"])
    baseline["effective_interval_s"] = round(baseline["job_s"] / max(baseline["polls"], 1), 2)
    return results


def ratio(ours: float, baseline: float) -> float | None:
    return round(ours / baseline, 4) if baseline else None


# --- the benchmark -------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE, help="simulated s per real s")
    parser.add_argument(
        "--quick", action="store_true", help="short jobs, 2-hour long job; results.json untouched"
    )
    parser.add_argument("--child", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    for name in ("--url", "--workspace", "--connection"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--epoch", type=float, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # bench/run_all.py passes its own arguments to every benchmark
    if args.child:
        child(args)
        return 0

    short_seconds, repeats, long_seconds, scale = (
        (QUICK["short_job_seconds"], QUICK["short_repeats"], QUICK["long_job_seconds"], QUICK["scale"])
        if args.quick
        else (SHORT_JOB_SECONDS, SHORT_REPEATS, LONG_JOB_SECONDS, args.scale)
    )
    load_before = os.getloadavg()
    started = time.perf_counter()
    print(f"{repeats} job(s) of {short_seconds:g} s per client, in real time...", flush=True)
    short = short_jobs(short_seconds, repeats)
    print(
        f"a {long_seconds / 3600:g}-hour job per client, time-compressed {scale:g}x "
        f"(~{long_seconds / scale:.0f} s)...",
        flush=True,
    )
    long = long_jobs(long_seconds, scale)

    ours_short, base_short = short["ours"], short["dagster_airbyte"]
    ours_long, base_long = long["ours_with_history"], long["dagster_airbyte"]
    no_history = long["ours_without_history"]
    figures = {
        "machine": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "command": "python bench/airbyte_sync.py" + (" --quick" if args.quick else f" --scale {scale:g}"),
            "total_seconds": round(time.perf_counter() - started),
        },
        "setup": {
            "ours": "AirbyteServerWorkspace.job_runner(clock=...).run(connection_id): adaptive polling "
            "(polling.PollSchedule defaults)",
            "dagster_airbyte": "AirbyteWorkspace(...).get_client().sync_and_poll(connection_id), "
            "poll_interval default (10 s)",
            "short_job_s": short_seconds,
            "short_jobs_per_client": repeats,
            "long_job_s": long_seconds,
            "time_scale": scale,
            "long_job_real_s": round(long_seconds / scale, 1),
            "units": "latencies in simulated seconds (real seconds for the short job); polls = "
            "GET /jobs/{id} counted by the server",
        },
        "short_job": short,
        "long_job": long,
        "ratios": {
            "short_latency_median_ours_to_baseline": ratio(
                ours_short["latency_s_median"], base_short["latency_s_median"]
            ),
            "short_polls_median_ours_to_baseline": ratio(
                ours_short["polls_median"], base_short["polls_median"]
            ),
            "long_latency_ours_to_baseline": ratio(ours_long["latency_s"], base_long["latency_s"]),
            "long_polls_ours_to_baseline": ratio(ours_long["polls"], base_long["polls"]),
            # Against 12 h / 10 s: what the baseline makes when its requests take no time.
            "long_polls_ours_to_baseline_nominal": ratio(ours_long["polls"], base_long["nominal_polls"]),
            "long_polls_ours_without_history_to_baseline": ratio(no_history["polls"], base_long["polls"]),
        },
        "targets": {
            "short_job_noticed_within_1s": ours_short["latency_s_max"] <= TARGETS["short_latency_s"],
            "long_job_noticed_within_60s": ours_long["latency_s"] <= TARGETS["long_latency_s"],
            "long_job_at_most_200_polls": ours_long["polls"] <= TARGETS["long_polls"],
            # Not attainable without history: 60 s at most between polls over 12 h is >= 720 polls.
            "without_history_noticed_within_60s": no_history["latency_s"] <= TARGETS["long_latency_s"],
            "without_history_at_most_200_polls": no_history["polls"] <= TARGETS["long_polls"],
        },
        "notes": "The long-job targets are evaluated on the connection with history (its usual sync "
        "takes ~12 h). For a job of unknown length, noticing the end within 60 s needs a poll at "
        "least every 60 s (>= 720 polls in 12 h), and 200 polls leave 216 s between polls on "
        "average: both cannot hold, so without history the schedule keeps the minute and spends "
        "the polls. One 12-hour job per client: its latency depends on where the end falls between "
        "two polls (poll_interval_at_end_s is that gap: ours at most 55 s near the expected end, "
        "dagster-airbyte 10 s plus request time). Latencies include request time, compressed with "
        "everything else.",
    }
    if args.quick:
        figures["notes"] = (
            "--quick smoke run (short sizes): targets are stated for 5 s and 12 h jobs. "
            + str(figures["notes"])
        )
    else:
        merge_results("airbyte_sync", figures)
    print_table(figures)
    return 0


def print_table(figures: dict[str, Any]) -> None:
    setup, short, long = figures["setup"], figures["short_job"], figures["long_job"]
    print()
    print("| job | client | latency (median / max) | polls (median) |")
    print("|---|---|---|---|")
    for name, s in short.items():
        print(
            f"| {setup['short_job_s']:g} s x{s['jobs']} | {name} | {s['latency_s_median']:.2f} s / "
            f"{s['latency_s_max']:.2f} s | {s['polls_median']:g} |"
        )
    for name, job in long.items():
        print(
            f"| {setup['long_job_s'] / 3600:g} h (x{setup['time_scale']:g}) | {name} | "
            f"{job['latency_s']:.1f} s | {job['polls']} |"
        )
    print(
        f"\nRatios: {figures['ratios']}\nTargets: {figures['targets']}\n"
        f"Load average {figures['machine']['load_average_before']} -> {figures['machine']['load_average_after']}."
    )


if __name__ == "__main__":
    sys.exit(main())
