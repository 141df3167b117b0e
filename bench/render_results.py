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


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Latest figures of `make bench` (each section: machine, date and command of its run; ratios compare us",
        "with the named baseline measured in the same run). Source of truth: `bench/results.json`.",
    ]
    for section, figures in results.items():
        lines += ["", f"## {section}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in _rows(figures)]
    return "\n".join(lines) + "\n"


def main() -> None:
    path = BENCH_DIR / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    (BENCH_DIR / "RESULTS.md").write_text(render(results))


if __name__ == "__main__":
    main()
