"""What every Airbyte sync op shares in both modes: tags, pool, run config, and the registry of sync ops.

- Tags `airbyte/connection` (name) and `airbyte/connection_id` say which connection an op syncs; the
  registry below is read off those tags, so declared and discovered connections are found alike.
- Pool `airbyte/<connection>`: Dagster's op concurrency pools (dagster.yaml `concurrency.pools`,
  default limit 1) keep at most one sync of a connection running at a time, across runs — Airbyte
  itself refuses a second job on a running connection.
- Run config `connection_id`: a run of `airbyte_event_driven_sync` carries the connection it is for
  (the Airflow DAG's `{"connection_id": ...}`); every other sync op of that run skips itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

CONNECTION_TAG = "airbyte/connection"
CONNECTION_ID_TAG = "airbyte/connection_id"
POOL_PREFIX = "airbyte/"
RUN_CONFIG_KEY = "connection_id"
# Runs that start Airbyte jobs (syncs, resets) carry this tag (value "true"): their job's tag, or the run
# coordinator's for runs with a sync step (sync_run_coordinator.py). The run queue limits how many run at
# once, the total that protects Airbyte's workers (make dev's dagster.yaml, the Helm values).
SYNC_RUN_TAG = "airbyte/sync"

SYNC_OP_CONFIG_SCHEMA = {
    RUN_CONFIG_KEY: dg.Field(
        str,
        is_required=False,
        description=(
            "Sync only this connection (an Airbyte connection id, or a declared connection's name); "
            "this op skips itself when the run is for another connection."
        ),
    )
}


def sync_op_tags(connection_id: str, name: str) -> dict[str, str]:
    return {CONNECTION_TAG: name, CONNECTION_ID_TAG: connection_id}


def sync_pool(op_name: str) -> str:
    """`airbyte/<connection>` from the op name `airbyte_sync_<connection>` (unique per connection)."""
    return POOL_PREFIX + op_name.removeprefix("airbyte_sync_")


def runs_for_another_connection(context: dg.OpExecutionContext, connection_id: str, name: str) -> bool:
    """True (and logged) when this run is for another connection than the one this op syncs."""
    wanted = (context.op_config or {}).get(RUN_CONFIG_KEY)
    if not wanted or wanted in (connection_id, name):
        return False
    context.log.info(f"Run is for connection {wanted!r}: {name!r} ({connection_id}) is not synced.")
    return True


@dataclass(frozen=True)
class SyncOp:
    """One connection's sync op as the code location defines it."""

    op_name: str
    connection_id: str
    connection_name: str
    keys: tuple[dg.AssetKey, ...]

    def answers_to(self, connection: str) -> bool:
        return connection in (self.connection_id, self.connection_name)


def sync_ops(assets: Iterable[object]) -> list[SyncOp]:
    """The sync ops among `assets` (AssetsDefinitions whose op carries the connection tags)."""
    found: list[SyncOp] = []
    for definition in assets:
        if not isinstance(definition, dg.AssetsDefinition) or not definition.is_executable:
            continue
        tags = definition.node_def.tags
        if CONNECTION_ID_TAG in tags and CONNECTION_TAG in tags:
            found.append(
                SyncOp(
                    op_name=definition.node_def.name,
                    connection_id=tags[CONNECTION_ID_TAG],
                    connection_name=tags[CONNECTION_TAG],
                    keys=tuple(sorted(definition.keys, key=lambda k: k.to_user_string())),
                )
            )
    return sorted(found, key=lambda op: op.op_name)


class UnknownConnectionError(ValueError):
    """A `connection_id` that no sync op answers to; the message lists the known ones."""


def resolve_connection(ops: Iterable[SyncOp], connection: str) -> SyncOp:
    ops = list(ops)
    for op in ops:
        if op.answers_to(connection):
            return op
    known = ", ".join(f"{op.connection_name} ({op.connection_id})" for op in ops)
    raise UnknownConnectionError(
        f"connection_id {connection!r} is not a connection of this code location; known: {known}"
    )
