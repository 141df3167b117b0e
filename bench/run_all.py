"""`make bench`: run every benchmark, then render bench/RESULTS.md from bench/results.json.

Each benchmark compares us with a named baseline in the same run and merges its own key into
results.json; a failing benchmark is reported and the others still run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BENCHMARKS = [
    "embedded_sync.py",
    "airbyte_load.py",
    "airbyte_sync.py",
    "webhooks.py",
    "inbox_backends.py",
    "launch.py",
    "local_transform.py",
    "scale.py",
]


def main() -> int:
    failed: list[str] = []
    for name in BENCHMARKS:
        script = BENCH_DIR / name
        if not script.exists():
            print(f"== {name}: missing, skipped", flush=True)
            continue
        print(f"== {name}", flush=True)
        if subprocess.call([sys.executable, str(script), *sys.argv[1:]], cwd=BENCH_DIR.parent) != 0:
            failed.append(name)
    subprocess.check_call([sys.executable, str(BENCH_DIR / "render_results.py")], cwd=BENCH_DIR.parent)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
