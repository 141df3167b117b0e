"""Render bench/RESULTS.md from bench/results.json (each benchmark's latest figures)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def _rows(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows += _rows(item, f"{prefix}{key}.")
        return rows
    if isinstance(value, float):
        value = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return [(prefix.rstrip("."), str(value))]


def _figure_table(figures: dict[str, Any]) -> list[str]:
    lines = ["| figure | value |", "|---|---|"]
    return lines + [f"| {name} | {value} |" for name, value in _rows(figures)]


def _na(value: Any, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _airbyte_load(figures: dict[str, Any]) -> list[str]:
    """A summary table of the three loads before the figures (None: a target not evaluated)."""
    lines = [
        "| load | assets | HTTP calls | load s (wall) | load s (CPU) | import s |",
        "|---|---|---|---|---|---|",
    ]
    for name, key in (
        ("ours, cold", "ours_cold"),
        ("ours, warm (median)", "ours_warm_median"),
        ("dagster-airbyte component, cold", "dagster_airbyte"),
        ("dagster-airbyte component, warm (median)", "dagster_airbyte_warm_median"),
    ):
        load = figures.get(key) or {}
        lines.append(
            f"| {name} | {_na(load.get('assets'))} | {_na(load.get('http_calls'))} | "
            f"{_na(load.get('load_s'))} | {_na(load.get('load_cpu_s'))} | {_na(load.get('import_s'))} |"
        )
    targets = {k: ("not evaluated" if v is None else v) for k, v in (figures.get("targets") or {}).items()}
    return [*lines, "", *_figure_table({**figures, "targets": targets})]


def _airbyte_sync(figures: dict[str, Any]) -> list[str]:
    """Summary and per-job tables; the flat table without the per-job lists."""
    setup = figures.get("setup") or {}
    lines = [
        "| job | client | detection latency | polls (GET /jobs/{id}) |",
        "|---|---|---|---|",
    ]
    for client, short in (figures.get("short_job") or {}).items():
        lines.append(
            f"| {setup.get('short_job_s', 0):g} s, {short['jobs']} jobs | {client} | median "
            f"{short['latency_s_median']} s, max {short['latency_s_max']} s | median {short['polls_median']} |"
        )
    for client, job in (figures.get("long_job") or {}).items():
        lines.append(
            f"| {setup.get('long_job_s', 0) / 3600:g} h, compressed {setup.get('time_scale', 1):g}x | {client} | "
            f"{job['latency_s']} s (simulated) | {job['polls']:,} |"
        )
    per_job = [
        (client, job)
        for client, short in (figures.get("short_job") or {}).items()
        for job in short.get("per_job", [])
    ]
    lines += [
        "",
        "| short job | client | job s | latency s | server-side latency s | poll gap at end s | polls | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {job['job_id']} | {client} | {job['job_s']} | {job['latency_s']} | {job['server_latency_s']} | "
        f"{_na(job.get('poll_interval_at_end_s'))} | {job['polls']} | {job['real_s']} |"
        for client, job in per_job
    ]
    flat = {
        **figures,
        "short_job": {
            client: {k: v for k, v in short.items() if k != "per_job"}
            for client, short in (figures.get("short_job") or {}).items()
        },
    }
    return [*lines, "", *_figure_table(flat)]


def _webhooks(figures: dict[str, Any]) -> list[str]:
    """The receiver beside the bare endpoint of the same run, the targets, then the flat table."""
    durable = figures.get("receiver_durable") or {}
    bare = figures.get("bare_starlette") or {}
    latency = figures.get("two_xx_to_run_request") or {}
    met = figures.get("targets_met") or {}

    def target(key: str, text: str) -> str:
        return f"{text}: {'met' if met.get(key) else '**missed**' if key in met else 'n/a'}"

    def rate(value: Any) -> str:
        return f"{value:,.0f}" if isinstance(value, int | float) else "n/a"

    lines = [
        "| figure | receiver (durable inbox) | bare Starlette | target |",
        "|---|---|---|---|",
        f"| requests/s (median round) | {rate(durable.get('per_s'))} | {rate(bare.get('per_s'))} | "
        f"{target('accepted_per_s>=1000', '>= 1,000 accepted/s')} |",
        f"| p50 latency | {_na(durable.get('p50_ms'), ' ms')} | {_na(bare.get('p50_ms'), ' ms')} | |",
        f"| p99 latency | {_na(durable.get('p99_ms'), ' ms')} | {_na(bare.get('p99_ms'), ' ms')} | "
        f"{target('p99_ms<50', '< 50 ms')} |",
        f"| ratio receiver / bare | {_na(figures.get('ratio_receiver_to_bare'))} | 1 | "
        f"{target('ratio>=1/3', '>= 1/3')} |",
        f"| 2xx → run request ({_na(latency.get('sensor_interval_s'), ' s')} sensor interval) | "
        f"mean {_na(latency.get('mean_s'), ' s')}, p50 {_na(latency.get('p50_s'), ' s')}, "
        f"max {_na(latency.get('max_s'), ' s')} | | |",
    ]
    return [*lines, "", *_figure_table(figures)]


def _inbox_backends(figures: dict[str, Any]) -> list[str]:
    """Intake per backend and writer against the run's baseline, then the drain per backend.

    Runs before SQLite's removal (2026-12-05) named their ratio key after SQLite's group commit."""
    ratios = figures.get("ratio_to_baseline") or figures.get("ratio_to_sqlite_group_commit") or {}
    lines = [
        f"| backend / writer | accepted/s (median round) | p50 | p99 | vs {figures.get('baseline', 'baseline')} |",
        "|---|---|---|---|---|",
    ]
    for variant, intake in (figures.get("intake") or {}).items():
        lines.append(
            f"| {variant} | {intake.get('per_s', 0):,.0f} | {_na(intake.get('p50_ms'), ' ms')} | "
            f"{_na(intake.get('p99_ms'), ' ms')} | {_na(ratios.get(variant))} |"
        )
    lines += [
        "",
        "| backend | backlog drained by the sensor | evaluations | bare read_after |",
        "|---|---|---|---|",
    ]
    for backend, drain in (figures.get("drain") or {}).items():
        lines.append(
            f"| {backend} | {_na(drain.get('backlog'))} events in {_na(drain.get('drain_s'), ' s')} | "
            f"{_na(drain.get('evaluations'))} | {_na(drain.get('read_after_only_s'), ' s')} |"
        )
    return [*lines, "", *_figure_table(figures)]


def _scale(figures: dict[str, Any]) -> list[str]:
    """The deployment's targets at scale, measured against target, then the flat table."""
    lines = ["| target | limit | measured | met |", "|---|---|---|---|"]
    names = {
        "code_server_ready_s": ("code server ready (warm; cold in the table)", " s", "warm"),
        "code_server_peak_gb": ("code server peak memory", " GB", "measured"),
        "run_worker_start_s": ("run worker start (RUN_STARTING → RUN_START)", " s", "measured"),
        "sensor_tick_s": ("sensor tick, 10,000-event backlog (worst tick)", " s", "measured_worst"),
    }
    for key, (text, unit, field) in names.items():
        target = (figures.get("targets") or {}).get(key) or {}
        met = target.get("met")
        lines.append(
            f"| {text} | {_na(target.get('target'), unit)} | {_na(target.get(field), unit)} | "
            f"{'yes' if met else '**no**' if met is not None else 'n/a'} |"
        )
    return [*lines, "", *_figure_table(figures)]


SECTIONS = {
    "airbyte_load": _airbyte_load,
    "airbyte_sync": _airbyte_sync,
    "webhooks": _webhooks,
    "inbox_backends": _inbox_backends,
    "scale": _scale,
}


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Latest figures of `make bench` (each section: machine, date and command of its run; ratios compare us",
        "with the named baseline measured in the same run). Source of truth: `bench/results.json`.",
    ]
    for section, figures in results.items():
        lines += ["", f"## {section}", ""]
        lines += SECTIONS.get(section, _figure_table)(figures)
    return "\n".join(lines) + "\n"


def main() -> None:
    path = BENCH_DIR / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    (BENCH_DIR / "RESULTS.md").write_text(render(results))


if __name__ == "__main__":
    main()
