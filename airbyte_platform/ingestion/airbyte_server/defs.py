"""Prod ingestion: every connection of the Airbyte workspace as assets, from a snapshot.

`AIRBYTE_DISCOVERY` (settings.airbyte.discovery) decides where discovered connections come from:
- `snapshot` (default): the JSON snapshot under `<home>/state/airbyte/`; zero HTTP calls when it
  exists. When it does not, it is fetched once and written; if Airbyte cannot be reached the load
  fails with the refresh command, never silently with zero assets.
- `live`: fetched at every load (and the snapshot rewritten); falls back to the snapshot, with a
  warning, when Airbyte is down.
- `off`: only the declared connections (no HTTP at all).

The snapshot goes through Dagster's `StateBackedDefinitionsLoader`: it is attached to the code
location as reconstruction metadata, so run workers rebuild exactly the keys the code server
showed, without reading the file or calling Airbyte.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.definitions_load_context import StateBackedDefinitionsLoader

from airbyte_platform.gc_pause import paused_cyclic_gc
from airbyte_platform.ingestion.airbyte_server.discovered_assets import discovered_assets, reserved_key_parts
from airbyte_platform.ingestion.airbyte_server.endpoints import credential_hint, endpoints_for
from airbyte_platform.ingestion.airbyte_server.reset import build_reset_job
from airbyte_platform.ingestion.airbyte_server.snapshot import (
    SnapshotError,
    WorkspaceSnapshot,
    read_snapshot,
    snapshot_path,
    write_snapshot,
)
from airbyte_platform.ingestion.airbyte_server.workspace import AirbyteServerWorkspace
from airbyte_platform.ingestion.sync_assets import declared_sync_assets
from airbyte_platform.ingestion.sync_target import REFRESH_COMMAND
from airbyte_platform.settings import AirbyteApiSettings, Settings

DEFS_STATE_KEY = "airbyte_platform/airbyte_workspace_snapshot"
# A code server loading with Airbyte down should say so in seconds, not after a sync's full backoff.
LOAD_MAX_RETRIES = 2


class AirbyteSnapshotUnavailableError(RuntimeError):
    pass


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


def refresh_snapshot(
    settings: Settings, workspace: AirbyteServerWorkspace | None = None
) -> WorkspaceSnapshot:
    """Fetch the workspace now and write the snapshot (what refresh.py runs).

    `workspace` must hold resolved credentials (see `build_workspace(resolve_secrets=True)`).
    """
    path = snapshot_path(settings)
    try:
        previous = read_snapshot(path)
    except SnapshotError:
        previous = None  # unreadable: start over (key parts are recomputed)
    workspace = workspace or build_workspace(settings, resolve_secrets=True)
    snapshot = workspace.fetch_snapshot(previous=previous, reserved_parts=reserved_key_parts())
    write_snapshot(snapshot, path)
    return snapshot


def build_airbyte_defs(settings: Settings, snapshot: WorkspaceSnapshot | None) -> dg.Definitions:
    # Collector passes during the build free nothing and re-walk every object (~0.2 s at 10k assets).
    with paused_cyclic_gc():
        return _build_airbyte_defs(settings, snapshot)


def _build_airbyte_defs(settings: Settings, snapshot: WorkspaceSnapshot | None) -> dg.Definitions:
    declared = declared_sync_assets(settings, snapshot)
    declared_ids = {target.connection_id for target, _ in declared}
    discovered = discovered_assets(snapshot, declared_ids) if snapshot is not None else []
    built = sorted([*declared, *discovered], key=lambda pair: pair[0].op_name)
    _warn_about_drift(settings, snapshot, [target for target, _ in declared])
    return dg.Definitions(
        assets=[assets for _, assets in built],
        jobs=[build_reset_job([target for target, _ in built])],
    )


class AirbyteWorkspaceDefsLoader(StateBackedDefinitionsLoader[str]):
    """State: the snapshot's JSON text, fetched (or read from disk) once per code-server load."""

    def __init__(self, settings: Settings, workspace: AirbyteServerWorkspace | None = None):
        self.settings = settings
        self.workspace = workspace or build_workspace(
            settings, resolve_secrets=True, request_max_retries=LOAD_MAX_RETRIES
        )

    @property
    def defs_key(self) -> str:
        return DEFS_STATE_KEY

    def fetch_state(self) -> str:
        path = snapshot_path(self.settings)
        mode = _airbyte(self.settings).discovery
        existing = _read_matching(self.settings, path)
        if mode == "snapshot" and existing is not None:
            return self._remember(*existing)
        try:
            snapshot = refresh_snapshot(self.settings, self.workspace)
        except Exception as exc:
            if existing is not None:
                dg.get_dagster_logger().warning(
                    f"Airbyte unreachable ({exc}); using the workspace snapshot {path}"
                )
                return self._remember(*existing)
            raise AirbyteSnapshotUnavailableError(
                f"No Airbyte workspace snapshot at {path}, and fetching one failed: {exc}\n"
                f"Run `{REFRESH_COMMAND}` once Airbyte is reachable, or set AIRBYTE_DISCOVERY=off "
                "to load only the declared connections."
            ) from exc
        return self._remember(snapshot.to_json().decode(), snapshot)

    def _remember(self, text: str, snapshot: WorkspaceSnapshot) -> str:
        # defs_from_state gets this text back: skip parsing it a second time.
        self._parsed = (text, snapshot)
        return text

    def defs_from_state(self, state: str) -> dg.Definitions:
        parsed = getattr(self, "_parsed", None)
        snapshot = (
            parsed[1] if parsed is not None and parsed[0] is state else WorkspaceSnapshot.from_json(state)
        )
        return build_airbyte_defs(self.settings, snapshot)


def _read_matching(settings: Settings, path: Path) -> tuple[str, WorkspaceSnapshot] | None:
    """The snapshot on disk (text, parsed) if it was taken from the Airbyte the settings point at."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    snapshot = WorkspaceSnapshot.from_json(text, where=str(path))
    airbyte = _airbyte(settings)
    expected_url = endpoints_for(airbyte).rest_api_base_url
    if snapshot.api_url != expected_url or (
        airbyte.workspace_id and snapshot.workspace_id != airbyte.workspace_id
    ):
        dg.get_dagster_logger().warning(
            f"{path} was taken from {snapshot.api_url} (workspace {snapshot.workspace_id}), not from "
            f"{expected_url} (workspace {airbyte.workspace_id or 'the only one'}): refreshing it"
        )
        return None
    return text, snapshot


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
                f"workspace {snapshot.workspace_id} (snapshot {snapshot_path(settings)}); syncs will fail"
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
    return AirbyteWorkspaceDefsLoader(settings).build_defs()
