"""Prod ingestion: every connection of the Airbyte workspace as assets.

`AIRBYTE_DISCOVERY` (settings.airbyte.discovery) decides where discovered connections come from:
- `snapshot` (default) and `live`: the workspace state in Dagster's defs-state storage
  (workspace_state.py): run workers rebuild exactly the keys the code server showed;
- `off`: only the declared connections (no HTTP at all).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import dagster as dg

from airbyte_platform.ingestion.airbyte_server.discovered_assets import discovered_assets
from airbyte_platform.ingestion.airbyte_server.endpoints import credential_hint, endpoints_for
from airbyte_platform.ingestion.airbyte_server.reset import build_reset_job
from airbyte_platform.ingestion.airbyte_server.run_scope import EVERYTHING, RunScope, report_scope
from airbyte_platform.ingestion.airbyte_server.snapshot import WorkspaceSnapshot
from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform.ingestion.sync_assets import declared_sync_assets
from airbyte_platform.settings import AirbyteApiSettings, Settings


def _airbyte(settings: Settings) -> AirbyteApiSettings:
    if settings.airbyte is None:
        raise ValueError("settings.airbyte is missing: prod ingestion needs the AIRBYTE_* variables")
    return settings.airbyte


def build_workspace(
    settings: Settings, *, resolve_secrets: bool = False, **overrides: Any
) -> AirbyteServerWorkspace:
    """The `airbyte` resource; secrets only through dg.EnvVar. `overrides`: other field values.

    `resolve_secrets` reads the EnvVars now, for discovery at load time: Dagster's own resource
    initialization would create an ephemeral instance (~1-3 s) just to read four variables. Such a
    workspace is used and dropped by the loader, never put into the Definitions.
    """
    airbyte = _airbyte(settings)
    endpoints = endpoints_for(airbyte)

    def env(name: str | None) -> dg.EnvVar | str | None:
        if name is None:
            return None
        return dg.EnvVar(name).get_value() if resolve_secrets else dg.EnvVar(name)

    return AirbyteServerWorkspace(
        rest_api_base_url=endpoints.rest_api_base_url,
        configuration_api_base_url=endpoints.configuration_api_base_url,
        webapp_url=endpoints.webapp_url,
        workspace_id=airbyte.workspace_id,
        username=env(airbyte.username_var),
        password=env(airbyte.password_var),
        client_id=env(airbyte.client_id_var),
        client_secret=env(airbyte.client_secret_var),
        credential_hint=credential_hint(airbyte),
        **{
            "pending_timeout": airbyte.pending_timeout_minutes * 60.0,
            "job_limits": {
                name: {k: v for k, v in dataclasses.asdict(limits).items() if v is not None}
                for name, limits in airbyte.job_limits.items()
            },
            **overrides,
        },
    )


def build_prod_ingestion_resources(settings: Settings) -> dict[str, object]:
    return {"airbyte": build_workspace(settings)}


def build_airbyte_defs(
    settings: Settings, snapshot: WorkspaceSnapshot | None, scope: RunScope = EVERYTHING
) -> dg.Definitions:
    """The declared connections always; the discovered ones `scope` includes (a run pod: its run's)."""
    declared = declared_sync_assets(settings, snapshot)
    declared_ids = {target.connection_id for target, _ in declared}
    discovered = discovered_assets(snapshot, declared_ids, scope) if snapshot is not None else []
    if snapshot is not None:
        others = sum(1 for c in snapshot.connections if c.connection_id not in declared_ids and c.streams)
        report_scope(scope, len(discovered), others)
    built = sorted([*declared, *discovered], key=lambda pair: pair[0].op_name)
    _warn_about_drift(settings, snapshot, [target for target, _ in declared])
    return dg.Definitions(
        assets=[assets for _, assets in built],
        jobs=[build_reset_job([target for target, _ in built])],
    )


def _warn_about_drift(settings: Settings, snapshot: WorkspaceSnapshot | None, declared: list) -> None:
    if snapshot is None:
        return
    log = dg.get_dagster_logger()
    by_id = {c.connection_id: c for c in snapshot.connections}
    for target in declared:
        found = by_id.get(target.connection_id)
        if found is None:
            log.warning(
                f"declared connection {target.name!r}: {target.id_source}={target.connection_id} is not in "
                f"workspace {snapshot.workspace_id} (fetched from {snapshot.api_url}); syncs will fail"
            )
            continue
        enabled = {s.name for s in found.streams}
        absent = [s.name for s in target.streams if s.name not in enabled]
        if absent:
            log.warning(f"declared connection {target.name!r}: streams {absent} are not enabled in Airbyte")


def build_prod_ingestion_defs(settings: Settings) -> dg.Definitions:
    """Assets of the declared and discovered connections, their checks, and the reset job."""
    if _airbyte(settings).discovery == "off":
        return build_airbyte_defs(settings, None)
    from airbyte_platform.ingestion.airbyte_server.workspace_state import AirbyteWorkspaceState

    return AirbyteWorkspaceState(settings).load_defs()
