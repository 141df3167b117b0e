"""PyAirbyte baseline of bench/embedded_sync.py: read one stream into PyAirbyte's DuckDB cache.

Runs with the interpreter of PyAirbyte's own virtualenv (`.local/bench/pyairbyte-venv`), never the
project's: `airbyte` 0.71 pins packages the platform needs newer. Prints one JSON line of figures.
Usage: python embedded_sync_pyairbyte.py EXECUTABLE CONFIG_JSON STREAM CACHE_DIR
"""

from __future__ import annotations

import json
import resource
import sys
import time
from importlib import metadata
from pathlib import Path


def main() -> None:
    executable, config_text, stream, cache_dir = sys.argv[1:5]
    import airbyte as ab  # imported here: its import time is not part of the measured read

    started = time.monotonic()
    source = ab.get_source(
        f"source-bench-{Path(executable).name}",
        config=json.loads(config_text),
        local_executable=executable,
        streams=[stream],
    )
    cache = ab.new_local_cache(cache_name="bench", cache_dir=cache_dir, cleanup=True)
    result = source.read(cache=cache, force_full_refresh=True)
    records = len(cache[stream])  # rows actually in DuckDB
    duration = time.monotonic() - started
    print(
        json.dumps(
            {
                "records": records,
                "processed_records": result.processed_records,
                "duration_seconds": duration,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "airbyte_version": metadata.version("airbyte"),
            }
        )
    )


if __name__ == "__main__":
    main()
