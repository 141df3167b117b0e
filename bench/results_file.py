"""bench/results.json, shared by every benchmark: each one replaces only its own key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def merge_results(key: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Read just before writing and replace atomically: the other benchmarks' figures stay whole."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results[key] = figures
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(results, indent=2) + "\n")
    temporary.replace(path)
