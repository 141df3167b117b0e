"""CDC health and lag of the application PostgreSQL → PostgreSQL connection (postgres_cdc_replication).

Both checks read the source database's replication slot, as the DAG's `check_cdc_health` and
`check_replication_lag(max_lag_seconds=300)` did. `pg_replication_slots` has no timestamps, so
seconds behind come from the last successful sync of the connection's assets.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import Field

from airbyte_platform.ingestion.catalog import connection_named
from airbyte_platform.local_services.postgres import local_postgres

CDC_CONNECTION = connection_named("app_postgres_cdc")
HEALTH_CHECK, LAG_CHECK = "check_cdc_health", "check_replication_lag"
HEALTHY_WAL_STATUS = ("reserved", "extended")


@dataclass(frozen=True)
class SlotStatus:
    slot_name: str
    exists: bool
    active: bool = False
    wal_status: str | None = None
    lag_bytes: int = 0


class CdcSourceResource(dg.ConfigurableResource):
    """The CDC source database (CDC_SOURCE_DSN in prod; a local pgserver with wal_level=logical locally)."""

    dsn: str | None = Field(default=None, description="Source PostgreSQL DSN (secret, via EnvVar)")
    local_pgdata: str | None = Field(default=None, description="Local stand-in's data directory")
    slot_name: str = Field(default="airbyte_slot")
    max_lag_seconds: int = Field(default=300)
    max_lag_bytes: int = Field(default=256 * 1024 * 1024)

    def uri(self) -> str:
        if self.dsn:
            return self.dsn
        assert self.local_pgdata, "CdcSourceResource needs dsn or local_pgdata"
        return ensure_local_cdc_source(Path(self.local_pgdata), self.slot_name)

    def slot_status(self) -> SlotStatus:
        with psycopg.connect(self.uri(), connect_timeout=5) as connection:
            row = connection.execute(
                "SELECT active, wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (self.slot_name,),
            ).fetchone()
        if row is None:
            return SlotStatus(self.slot_name, exists=False)
        return SlotStatus(
            self.slot_name, exists=True, active=bool(row[0]), wal_status=row[1], lag_bytes=int(row[2] or 0)
        )


def ensure_local_cdc_source(pgdata: Path, slot_name: str) -> str:
    """A local source database with logical replication, a publication and a pgoutput slot."""
    server = local_postgres(pgdata)
    if "logical" not in server.psql("SHOW wal_level;"):
        # wal_level only changes on restart; pgserver has no public restart, so use its pg_ctl
        # wrapper (it runs as the server's system user, which plain pg_ctl as root cannot).
        from pgserver._commands import pg_ctl

        server.psql("ALTER SYSTEM SET wal_level = logical;")
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=30)
    uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as connection:
        if connection.execute("SHOW wal_level").fetchone()[0] == "logical":
            if not connection.execute(
                "SELECT 1 FROM pg_publication WHERE pubname = 'airbyte_publication'"
            ).fetchone():
                connection.execute("CREATE PUBLICATION airbyte_publication FOR ALL TABLES")
            if not connection.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot_name,)
            ).fetchone():
                connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot_name,))
    return uri


def health_result(status: SlotStatus, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    if not status.exists:
        problem = f"replication slot {status.slot_name!r} does not exist on the CDC source (CDC_SLOT_NAME)"
    elif status.wal_status not in HEALTHY_WAL_STATUS:
        problem = f"replication slot {status.slot_name!r} has wal_status {status.wal_status!r}: WAL it needs is being removed"
    else:
        problem = None
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=HEALTH_CHECK,
        passed=problem is None,
        description=problem,
        metadata={
            "slot_name": status.slot_name,
            "active": status.active,
            "wal_status": str(status.wal_status),
        },
    )


def lag_result(
    status: SlotStatus, asset_key: dg.AssetKey, seconds_behind: float | None, max_seconds: int, max_bytes: int
) -> dg.AssetCheckResult:
    problems = []
    if status.lag_bytes > max_bytes:
        problems.append(
            f"slot {status.slot_name!r} is {status.lag_bytes:,} bytes of WAL behind (max {max_bytes:,})"
        )
    if seconds_behind is not None and seconds_behind > max_seconds:
        problems.append(
            f"last successful sync was {seconds_behind:,.0f} s ago (max_lag_seconds={max_seconds})"
        )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=LAG_CHECK,
        passed=not problems and status.exists,
        description="; ".join(problems) or (None if status.exists else f"slot {status.slot_name!r} missing"),
        metadata={
            "lag_bytes": status.lag_bytes,
            "seconds_behind": -1.0 if seconds_behind is None else round(seconds_behind, 1),
            "max_lag_seconds": max_seconds,
        },
    )


def _seconds_since_last_sync(instance: dg.DagsterInstance, key: dg.AssetKey) -> float | None:
    event = instance.get_latest_materialization_event(key)
    return None if event is None else time.time() - event.timestamp


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset=CDC_CONNECTION.asset_key(stream), description=description)
        for stream in CDC_CONNECTION.streams
        for name, description in (
            (HEALTH_CHECK, "The CDC replication slot exists and its WAL is retained (check_cdc_health)."),
            (LAG_CHECK, "The CDC slot is within max_lag_seconds / max lag bytes (check_replication_lag)."),
        )
    ],
    can_subset=True,
)
def cdc_checks(context: dg.AssetCheckExecutionContext, cdc_source: CdcSourceResource):
    try:
        status = cdc_source.slot_status()
    except psycopg.OperationalError as exc:
        raise dg.Failure(f"CDC source unreachable (CDC_SOURCE_DSN): {exc}") from exc
    for check_key in context.selected_asset_check_keys:
        if check_key.name == HEALTH_CHECK:
            yield health_result(status, check_key.asset_key)
        else:
            seconds = _seconds_since_last_sync(context.instance, check_key.asset_key)
            yield lag_result(
                status, check_key.asset_key, seconds, cdc_source.max_lag_seconds, cdc_source.max_lag_bytes
            )
