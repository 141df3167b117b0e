"""Defaults of the embedded runner that the `airbyte` resource shows as its config.

Kept apart from the runner's modules so that the resource (imported by every process that loads the
code location) does not import pyarrow, DuckDB and numpy with them.
"""

# A second sync of the same stream waits for the first this long before giving up.
LOCK_TIMEOUT_SECONDS = 3600.0
# Incremental streams commit their data up to a STATE, with it, at most this often (and at the end):
# each commit costs a manifest (the lake: a new file) or an upsert transaction (PostgreSQL).
CHECKPOINT_SECONDS = 300.0
