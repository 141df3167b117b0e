"""Embedded sync throughput: our runner vs the connector's raw emission vs PyAirbyte, in one run.

For each scenario (a connector and one of its streams):
- raw: `<connector> read --config … --catalog … > /dev/null`, the connector alone (the ceiling);
- embedded: `EmbeddedAirbyteRunner.sync` of the stream into the Parquet lake, end to end (read,
  publish), in a child process so its peak RSS is its own; spec/check/discover are asked once per
  connector version and config and kept (`prepared.py`, as the Airbyte platform keeps a
  connection's catalog): the child asks them first, untimed, and reports them as
  `prepare_once_seconds`;
- PyAirbyte: `airbyte` 0.71 reading the same connector executable into its DuckDB cache, from its
  own virtualenv under .local/bench (it pins packages the platform needs newer).
Peak RSS of the embedded sync is measured at two sizes to show that memory stays flat.

The machine is shared and has few cores, and the connector and the embedded runner share them: raw
and embedded runs are interleaved (raw, embedded, raw, ... `--repeat` embedded runs) and the best
run of each side counts, with the load average recorded at every run. The embedded sync's steps
(prepare = spec/check/discover, read, publish) are reported too.

Scenarios: the project's sample Stripe source (`charges`) at `--records` (default 1,000,000), and
the real `airbyte-source-faker` (`users`) at `--faker-records` (default 200,000): faker emits only a
few thousand records per second here, so three 1M-record faker runs would take ~20 minutes.

Usage: .venv/bin/python bench/embedded_sync.py [--records N] [--faker-records M] [--repeat R]
                                               [--quick] [--no-write] [--no-pyairbyte] [--no-faker]
Writes the `embedded_sync` key of bench/results.json (not with --quick or --no-write) and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results_file import RESULTS, merge_results

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # runnable as a plain script from any directory

from airbyte_platform.core.catalog import ConnectionSpec, LocalStandIn, StreamSpec  # noqa: E402
from airbyte_platform.ingestion.embedded import protocol  # noqa: E402
from airbyte_platform.ingestion.embedded.connectors import resolve_connector  # noqa: E402
from airbyte_platform.ingestion.embedded.runner import EmbeddedAirbyteRunner  # noqa: E402
from airbyte_platform.settings import get_settings  # noqa: E402

BENCH_DIR = PROJECT / "bench"
BENCH_HOME = PROJECT / ".local" / "bench"
PYAIRBYTE_VENV = BENCH_HOME / "pyairbyte-venv"
PYAIRBYTE_REQUIREMENT = "airbyte==0.71.3"
PYAIRBYTE_READER = BENCH_DIR / "embedded_sync_pyairbyte.py"
FAKER = "pypi:airbyte-source-faker==7.2.1"
RUN_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class Scenario:
    key: str  # results.json key: "" for the primary scenario (top level), else a sub-key
    connector: str
    stream: StreamSpec
    config: dict[str, Any]
    records: int

    @property
    def label(self) -> str:
        return f"{self.connector} ({self.stream.name})"

    def connection(self) -> ConnectionSpec:
        source = f"bench_{self.stream.name}"
        return ConnectionSpec(
            name=f"{source}_to_lake",
            title=f"benchmark: {self.label}",
            source=source,
            destination="lake",
            connection_id_variable="UNUSED",  # never used: the embedded runner needs no Airbyte server
            description="bench/embedded_sync.py",
            owners=(),
            local=LocalStandIn(connector=self.connector, config=self.config),
            streams=(self.stream,),
        )


def stripe_scenario(records: int) -> Scenario:
    charges = StreamSpec("charges", ("id",), "created", "full_refresh", min_records=0)
    return Scenario("", "sample:stripe", charges, {"records": records, "seed": 7}, records)


def faker_scenario(records: int) -> Scenario:
    users = StreamSpec("users", ("id",), "updated_at", "full_refresh", min_records=0)
    # parallelism 2: the machine's cores; the same config for all three measurements.
    config = {"count": records, "seed": 1, "parallelism": 2, "records_per_slice": 1000}
    return Scenario("faker", FAKER, users, config, records)


# ---------------------------------------------------------------------------- the three measurements


def connector_argv(scenario: Scenario) -> list[str]:
    """The connector's command (installing a PyPI connector into its own virtualenv on first use)."""
    return list(resolve_connector(scenario.connector, get_settings().connectors_dir).argv)


def measure_raw(scenario: Scenario) -> float:
    """Seconds of `<connector> read … > /dev/null`: the connector alone, the ceiling of any sync."""
    with tempfile.TemporaryDirectory(prefix="bench-raw-", dir=_bench_home()) as workdir:
        return _timed_raw_read(scenario, Path(workdir))


def _timed_raw_read(scenario: Scenario, workdir: Path) -> float:
    argv = connector_argv(scenario)
    config = workdir / "config.json"
    config.write_text(json.dumps(scenario.config))
    discovered = _run_json_lines([*argv, "discover", "--config", str(config)])
    streams = next(m["catalog"]["streams"] for m in discovered if m.get("type") == "CATALOG")
    chosen = next(s for s in streams if s["name"] == scenario.stream.name)
    configured = protocol.ConfiguredStream(chosen, "full_refresh", None, scenario.stream.primary_key)
    catalog = workdir / "catalog.json"
    catalog.write_text(json.dumps(protocol.configured_catalog([configured])))
    started = time.monotonic()
    subprocess.run(
        [*argv, "read", "--config", str(config), "--catalog", str(catalog)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    return time.monotonic() - started


def measure_embedded(scenario: Scenario, records: int | None = None) -> dict[str, Any]:
    """The embedded sync in a child process (this script with --child-sync): its own peak RSS."""
    payload = {"connector": scenario.connector, "records": records or scenario.records, "key": scenario.key}
    completed = subprocess.run(
        [sys.executable, __file__, "--child-sync", json.dumps(payload)],
        capture_output=True,
        text=True,
        check=False,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"embedded sync of {scenario.label} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child_sync(payload: dict[str, Any]) -> None:
    """Runs in the child: one embedded sync into a throw-away lake; prints its figures as JSON."""
    build = faker_scenario if payload["key"] == "faker" else stripe_scenario
    scenario = build(int(payload["records"]))
    with tempfile.TemporaryDirectory(prefix="bench-lake-", dir=_bench_home()) as lake:
        runner = EmbeddedAirbyteRunner(
            connectors_dir=get_settings().connectors_dir, lake_root=lake, postgres_dsn=None
        )
        # spec/check/discover are paid once per connector version and config, as on the Airbyte
        # platform (kept for the next syncs): here before the timed sync, and reported on their own.
        preparing = time.monotonic()
        runner.prepare(scenario.connection())
        prepare_seconds = time.monotonic() - preparing
        started = time.monotonic()
        (result,) = runner.sync(scenario.connection())
        duration = time.monotonic() - started
    print(
        json.dumps(
            {
                "records": result.records_synced,
                "total_rows": result.total_rows,
                "bytes": result.bytes_synced,
                "duration_seconds": duration,
                "phase_seconds": dict(result.phase_seconds),
                "prepare_once_seconds": prepare_seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "connector_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def measure_pyairbyte(scenario: Scenario) -> dict[str, Any]:
    """PyAirbyte (own virtualenv) reading the same connector executable into its DuckDB cache."""
    python = ensure_pyairbyte()
    executable = _executable_for_pyairbyte(scenario)
    with tempfile.TemporaryDirectory(prefix="bench-pyairbyte-", dir=_bench_home()) as cache_dir:
        environment = {
            **os.environ,
            "AIRBYTE_OFFLINE_MODE": "1",  # no registry look-ups: the connector is a local executable
            "DO_NOT_TRACK": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # `uv`
            "AIRBYTE_LOGGING_ROOT": str(Path(cache_dir) / "logs"),
        }
        completed = subprocess.run(
            [
                str(python),
                str(PYAIRBYTE_READER),
                str(executable),
                json.dumps(scenario.config),
                scenario.stream.name,
                cache_dir,
            ],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
            timeout=RUN_TIMEOUT_SECONDS,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"PyAirbyte read of {scenario.label} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def ensure_pyairbyte() -> Path:
    """PyAirbyte's own virtualenv, created with uv on first use."""
    python = PYAIRBYTE_VENV / "bin" / "python"
    marker = PYAIRBYTE_VENV / "installed.txt"
    if marker.exists() and marker.read_text().strip() == PYAIRBYTE_REQUIREMENT:
        return python
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise RuntimeError("PyAirbyte's virtualenv is made with `uv`: install it (pip install uv)")
    shutil.rmtree(PYAIRBYTE_VENV, ignore_errors=True)
    print(f"installing {PYAIRBYTE_REQUIREMENT} into {PYAIRBYTE_VENV} (first run)", flush=True)
    subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(PYAIRBYTE_VENV)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), PYAIRBYTE_REQUIREMENT], check=True
    )
    marker.write_text(PYAIRBYTE_REQUIREMENT)
    return python


def _executable_for_pyairbyte(scenario: Scenario) -> Path:
    """PyAirbyte runs a connector from one executable path: a PyPI connector's console script, or a
    wrapper script around the sample source."""
    argv = connector_argv(scenario)
    if len(argv) == 1:
        return Path(argv[0])
    wrapper = _bench_home() / "bin" / f"source-{scenario.connector.replace(':', '-')}"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{part}'" for part in argv) + ' "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _run_json_lines(argv: list[str]) -> list[dict[str, Any]]:
    output = subprocess.run(argv, capture_output=True, check=True, timeout=600).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith(b"{")]


def _bench_home() -> Path:
    BENCH_HOME.mkdir(parents=True, exist_ok=True)
    return BENCH_HOME


# ------------------------------------------------------------------------------------------ the run


def run_scenario(
    scenario: Scenario, *, memory_sizes: tuple[int, ...] = (), repeat: int = 2, pyairbyte: bool = True
) -> dict[str, Any]:
    print(f"== {scenario.label}: {scenario.records:,} records", flush=True)
    # Raw and embedded runs alternate, starting and ending with raw, and the best of each side counts:
    # on a shared machine, a load spike during one run must flatter neither side.
    raw_seconds: list[float] = []
    embedded_runs: list[dict[str, Any]] = []
    loads: list[float] = []

    def raw() -> None:
        loads.append(os.getloadavg()[0])
        raw_seconds.append(measure_raw(scenario))
        print(f"   raw read > /dev/null: {raw_seconds[-1]:.1f} s (load {loads[-1]:.1f})", flush=True)

    raw()
    for _ in range(max(1, repeat)):
        loads.append(os.getloadavg()[0])
        embedded_runs.append(measure_embedded(scenario))
        run = embedded_runs[-1]
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in run.get("phase_seconds", {}).items())
        print(
            f"   embedded sync: {run['duration_seconds']:.1f} s ({phases}; load {loads[-1]:.1f})", flush=True
        )
        raw()
    embedded = min(embedded_runs, key=lambda run: run["duration_seconds"])
    if embedded["records"] != scenario.records:
        raise RuntimeError(f"embedded sync wrote {embedded['records']:,} records, not {scenario.records:,}")
    pyairbyte_figures = measure_pyairbyte(scenario) if pyairbyte else None
    if pyairbyte_figures is not None:
        print(f"   PyAirbyte read: {pyairbyte_figures['duration_seconds']:.1f} s", flush=True)
    peak = {str(scenario.records): round(max(run["peak_rss_mb"] for run in embedded_runs), 1)}
    for size in memory_sizes:
        if size != scenario.records:
            peak[str(size)] = round(measure_embedded(scenario, size)["peak_rss_mb"], 1)
    rate = scenario.records / embedded["duration_seconds"]
    raw_rate = scenario.records / min(raw_seconds)
    figures: dict[str, Any] = {
        "records": scenario.records,
        "connector": scenario.label,
        "records_per_second": round(rate),
        "raw_records_per_second": round(raw_rate),
        "ratio_vs_raw": round(rate / raw_rate, 3),
        "peak_rss_mb": dict(sorted(peak.items(), key=lambda item: int(item[0]))),
        "connector_peak_rss_mb": round(embedded["connector_peak_rss_mb"], 1),
        "mb_per_second": round(embedded["bytes"] / embedded["duration_seconds"] / 1e6, 1),
        "duration_seconds": {
            "embedded": [round(run["duration_seconds"], 1) for run in embedded_runs],
            "raw": [round(seconds, 1) for seconds in raw_seconds],
        },
        "embedded_phase_seconds": {k: round(v, 2) for k, v in embedded.get("phase_seconds", {}).items()},
        # spec/check/discover, asked once per connector version and config (not part of each sync)
        "prepare_once_seconds": round(embedded.get("prepare_once_seconds", 0.0), 2),
        "load_average_per_run": [round(load, 1) for load in loads],
    }
    if pyairbyte_figures is not None:
        pyairbyte_rate = pyairbyte_figures["records"] / pyairbyte_figures["duration_seconds"]
        figures |= {
            "pyairbyte_records_per_second": round(pyairbyte_rate),
            "ratio_vs_pyairbyte": round(rate / pyairbyte_rate, 3),
            "pyairbyte_peak_rss_mb": round(pyairbyte_figures["peak_rss_mb"], 1),
            "pyairbyte_records": pyairbyte_figures["records"],
        }
        figures["duration_seconds"]["pyairbyte"] = round(pyairbyte_figures["duration_seconds"], 1)
    return figures


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {memory_gib:.0f} GiB, "
        f"Python {platform.python_version()}, load average at start {load}"
    )


def markdown(figures: dict[str, Any]) -> str:
    rows = [figures, *(v for v in figures.values() if isinstance(v, dict) and "connector" in v)]
    lines = [
        "| connector (stream) | records | raw rec/s | embedded rec/s | ratio vs raw | PyAirbyte rec/s "
        "| ratio vs PyAirbyte | embedded peak RSS MB (by records) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        rss = ", ".join(f"{int(size):,}: {mb:.0f}" for size, mb in row["peak_rss_mb"].items())
        pyairbyte_rate = (
            f"{row['pyairbyte_records_per_second']:,}" if "pyairbyte_records_per_second" in row else "-"
        )
        pyairbyte_ratio = f"{row['ratio_vs_pyairbyte']:.2f}" if "ratio_vs_pyairbyte" in row else "-"
        lines.append(
            f"| {row['connector']} | {row['records']:,} | {row['raw_records_per_second']:,} "
            f"| {row['records_per_second']:,} | {row['ratio_vs_raw']:.2f} "
            f"| {pyairbyte_rate} | {pyairbyte_ratio} | {rss} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records of the sample Stripe run")
    parser.add_argument("--faker-records", type=int, default=200_000, help="users of the faker run")
    parser.add_argument("--repeat", type=int, default=2, help="embedded runs per scenario, between raw runs")
    parser.add_argument("--quick", action="store_true", help="small smoke run; results.json untouched")
    parser.add_argument("--no-write", action="store_true", help="print only; results.json untouched")
    parser.add_argument("--no-pyairbyte", action="store_true", help="skip the PyAirbyte baseline")
    parser.add_argument("--no-faker", action="store_true", help="skip the source-faker scenario")
    parser.add_argument(
        "--only-faker",
        action="store_true",
        help="measure only the source-faker scenario; the other embedded_sync figures are kept",
    )
    parser.add_argument("--child-sync", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # bench/run_all.py passes its own arguments to every benchmark
    if args.child_sync:
        child_sync(json.loads(args.child_sync))
        return 0
    records, faker_records = (20_000, 2_000) if args.quick else (args.records, args.faker_records)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    about = machine()
    pyairbyte = not args.no_pyairbyte
    if args.only_faker:  # the Stripe figures stay those of their last full run
        kept = json.loads(RESULTS.read_text()).get("embedded_sync", {}) if RESULTS.exists() else {}
        figures = {k: v for k, v in kept.items() if k != "faker"}
        figures["faker"] = run_scenario(
            faker_scenario(faker_records), repeat=args.repeat, pyairbyte=pyairbyte
        )
        figures["faker"]["command"] = " ".join(["bench/embedded_sync.py", *sys.argv[1:]])
        figures["faker"]["date"] = started_at.isoformat(timespec="seconds")
        print()
        print(markdown(figures))
        if not (args.quick or args.no_write):
            merge_results("embedded_sync", figures)
            print(f"\nwrote {RESULTS.relative_to(PROJECT)} (embedded_sync.faker)")
        return 0
    figures = run_scenario(
        stripe_scenario(records),
        memory_sizes=(max(records // 10, 1), max(records // 2, 1)),
        repeat=args.repeat,
        pyairbyte=pyairbyte,
    )
    if not args.no_faker:
        figures["faker"] = run_scenario(faker_scenario(faker_records), repeat=1, pyairbyte=pyairbyte)
    figures |= {
        "machine": about,
        "date": started_at.isoformat(timespec="seconds"),
        "command": " ".join(["bench/embedded_sync.py", *sys.argv[1:]]),
        "total_seconds": round(time.monotonic() - started),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "notes": (
            "Rates are end to end: the embedded figures include reading, typing and publishing; "
            "spec/check/discover are asked once per connector version and config and kept, as on the "
            "Airbyte platform (`prepare_once_seconds`, not part of each sync); PyAirbyte's include them; "
            "raw is the read command alone. Raw and embedded runs alternate "
            "and the best of each side counts. Other work shares the machine: see the load averages. "
            "Primary scenario: the sample "
            "Stripe source at the full size; faker at a smaller size because it emits only a few "
            "thousand records per second here."
        ),
    }
    print()
    print(markdown(figures))
    if not (args.quick or args.no_write):
        merge_results("embedded_sync", figures)
        print(f"\nwrote {RESULTS.relative_to(PROJECT)} (embedded_sync)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
