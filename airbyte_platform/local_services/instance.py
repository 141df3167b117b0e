"""The local Dagster instance, shaped like a deployment: storage and webhook inbox on PostgreSQL.

`make dev` and `make demo` call `prepare_local_instance`: it starts the local PostgreSQL (the
pgserver cluster under the home, which also holds the analytics database), creates the `dagster`
and `webhooks` databases, and writes `$DAGSTER_HOME/dagster.yaml`:
- run, event log and schedule storage on PostgreSQL (dagster-postgres), as in Kubernetes;
- the queued run coordinator: at most `max_concurrent_runs` runs, and at most
  `max_concurrent_sync_runs` runs tagged `airbyte/sync` (the total that protects Airbyte's workers),
  a tag the coordinator puts on every run that syncs, whatever launched it;
- concurrency pools with a default limit of 1: one sync per Airbyte connection at a time (pool
  `airbyte/<connection>`), one writer of the local Snowflake file (pool `snowflake`);
- run monitoring, so a run whose process died is marked failed rather than left STARTED.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airbyte_platform.events.local_inbox import local_inbox_dsn
from airbyte_platform.ingestion.sync_ops import SYNC_RUN_TAG
from airbyte_platform.ingestion.sync_run_coordinator import CLASS as SYNC_RUN_COORDINATOR_CLASS
from airbyte_platform.ingestion.sync_run_coordinator import MODULE as SYNC_RUN_COORDINATOR_MODULE
from airbyte_platform.local_services.postgres import local_postgres_uri
from airbyte_platform.settings import Settings

DAGSTER_DATABASE = "dagster"
POSTGRES_DIR = "postgres"  # under the home: the same cluster as the analytics database and the inbox


@dataclass(frozen=True)
class LocalInstance:
    dagster_home: Path
    storage_url: str
    inbox_dsn: str

    def child_environment(self) -> dict[str, str]:
        """What the processes of the topology (receiver, webserver, daemon, runs) must share."""
        return {"DAGSTER_HOME": str(self.dagster_home), "WEBHOOK_INBOX_DSN": self.inbox_dsn}


def instance_config(settings: Settings, storage_url: str) -> dict[str, Any]:
    limits = settings.instance
    return {
        "storage": {"postgres": {"postgres_url": storage_url}},
        # Dagster's queued run coordinator, which also tags the runs that sync (sync_run_coordinator.py).
        "run_coordinator": {"module": SYNC_RUN_COORDINATOR_MODULE, "class": SYNC_RUN_COORDINATOR_CLASS},
        "concurrency": {
            "runs": {
                "max_concurrent_runs": limits.max_concurrent_runs,
                "tag_concurrency_limits": [{"key": SYNC_RUN_TAG, "limit": limits.max_concurrent_sync_runs}],
            },
            "pools": {"default_limit": 1},
        },
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 5},
        "telemetry": {"enabled": False},
    }


def dagster_home_from(environ: dict[str, str] | None = None) -> Path:
    """$DAGSTER_HOME (the Makefile sets it; Dagster itself reads the same variable)."""
    value = (environ if environ is not None else os.environ).get("DAGSTER_HOME")
    if not value:
        raise RuntimeError("DAGSTER_HOME is not set: run through make (make dev, make demo)")
    return Path(value)


def known_pools() -> list[str]:
    from airbyte_platform.core.catalog import declared_connections
    from airbyte_platform.ingestion.sync_ops import sync_pool
    from airbyte_platform.transforms.snowflake.assets import POOL as SNOWFLAKE_POOL

    return [SNOWFLAKE_POOL, *(sync_pool(f"airbyte_sync_{c.name}") for c in declared_connections())]


def create_pools(dagster_home: Path, pools: list[str], limit: int = 1) -> None:
    """Create the pools before any run does: two runs creating the same pool at its first use race
    on a unique key in dagster-postgres (`concurrency_limits_concurrency_key_key`), and one fails."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        storage = instance.event_log_storage
        existing = set(storage.get_concurrency_keys())
        for pool in pools:
            if pool not in existing:
                storage.set_concurrency_slots(pool, limit)


def prepare_local_instance(settings: Settings, dagster_home: Path) -> LocalInstance:
    pgdata = settings.home / POSTGRES_DIR
    # dagster-postgres writes psycopg2 SQL (`NOTIFY run_events, %(id)s`); SQLAlchemy 2.1's default
    # PostgreSQL driver is psycopg 3, which rejects it: name the driver.
    storage_url = local_postgres_uri(pgdata, DAGSTER_DATABASE).replace(
        "postgresql://", "postgresql+psycopg2://", 1
    )
    # The inbox every local process falls back to without WEBHOOK_INBOX_DSN (same cluster, same
    # database): exported anyway, so the topology's processes need no fallback of their own.
    inbox_dsn = local_inbox_dsn(settings.home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = instance_config(settings, storage_url)
    path = dagster_home / "dagster.yaml"
    text = (
        "# Written by airbyte_platform.local_services.instance (make dev / make demo); edits are replaced.\n"
    )
    text += yaml.safe_dump(config, sort_keys=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    create_pools(dagster_home, known_pools())
    return LocalInstance(dagster_home=dagster_home, storage_url=storage_url, inbox_dsn=inbox_dsn)
