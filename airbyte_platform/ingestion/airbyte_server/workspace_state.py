"""The Airbyte workspace as Dagster defs state: fetched once, stored in the instance's defs-state storage.

`AirbyteWorkspaceState` is a `dg.StateBackedComponent`, the mechanism dagster-airbyte's own
`AirbyteWorkspaceComponent` is built on, so Dagster manages the state's life cycle:
- `dg utils refresh-defs-state` (in a checkout: `airbyte_platform/defs/airbyte_workspace/defs.yaml`
  declares the component) or `python -m airbyte_platform.ingestion.airbyte_server.refresh` (the image,
  which has no `dg`) fetches the workspace and uploads it as a new version;
- every code server loads the latest version with zero HTTP calls, and records which version it used;
- run workers (other processes, other pods) download exactly that version, so they rebuild the keys the
  code server showed without calling Airbyte or re-deriving anything.
The storage is the instance's `defs_state_storage`: by default files under `$DAGSTER_HOME/storage`
(one machine), in Kubernetes an S3 prefix every pod reads (deploy/helm/values.yaml).

We do not use `AirbyteWorkspaceComponent` itself: its assets come from its own translator and sync op,
while this project keeps one sync path for both modes (ingestion/sync_assets.py) and a paged discovery
(12 HTTP calls for 1,000 connections where the component makes 2,011). The state is our
`WorkspaceSnapshot` JSON, which also keeps each connection's key part across renames.

`AIRBYTE_DISCOVERY=snapshot` (default) fetches only when no version is stored yet; `live` fetches at
every code-server load and falls back to the stored version, with a warning, when Airbyte is down.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType
from dagster._core.errors import DagsterHomeNotSetError
from dagster._core.storage.defs_state.base import DefsStateStorage, set_defs_state_storage
from dagster.components.utils.defs_state import DefsStateConfig
from dagster_shared.serdes.objects.models.defs_state_info import DefsStateManagementType

from airbyte_platform.ingestion.airbyte_server.discovered_assets import reserved_key_parts
from airbyte_platform.ingestion.airbyte_server.endpoints import endpoints_for
from airbyte_platform.ingestion.airbyte_server.snapshot import SnapshotError, WorkspaceSnapshot
from airbyte_platform.ingestion.sync_target import REFRESH_COMMAND
from airbyte_platform.settings import AirbyteApiSettings, Settings, get_settings

# A code server loading with Airbyte down should say so in seconds, not after a sync's full backoff.
LOAD_MAX_RETRIES = 2
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class AirbyteSnapshotUnavailableError(RuntimeError):
    pass


def state_key(airbyte: AirbyteApiSettings) -> str:
    """One key per Airbyte server and workspace: pointing the settings at another Airbyte starts
    from no state (fetched then) instead of showing the other server's connections."""
    url = endpoints_for(airbyte).rest_api_base_url
    return f"airbyte_workspace[{url}|{airbyte.workspace_id or 'default'}]"


class AirbyteWorkspaceState(dg.StateBackedComponent):
    """The Airbyte workspace's connections as assets, from state in Dagster's defs-state storage."""

    def __init__(self, settings: Settings | None = None):
        # dg instantiates the component from defs.yaml without arguments: the environment's settings.
        self.settings = settings or get_settings()

    @property
    def airbyte(self) -> AirbyteApiSettings:
        if self.settings.airbyte is None or self.settings.is_local:
            raise AirbyteSnapshotUnavailableError(
                "The Airbyte workspace state is fetched in prod mode: set AIRBYTE_PLATFORM_MODE=prod and "
                "the AIRBYTE_* variables (README, Settings)."
            )
        return self.settings.airbyte

    @property
    def defs_state_config(self) -> DefsStateConfig:
        key = state_key(self.settings.airbyte) if self.settings.airbyte else "airbyte_workspace[unset]"
        return DefsStateConfig(
            key=key,
            management_type=DefsStateManagementType.VERSIONED_STATE_STORAGE,
            # `dagster dev` must start with Airbyte down: refreshing is this class's decision (load_defs).
            refresh_if_dev=False,
        )

    # --- state ----------------------------------------------------------------------------------
    def write_state_to_path(self, state_path: Path) -> None:
        from airbyte_platform.ingestion.airbyte_server.defs import build_workspace

        workspace = build_workspace(self.settings, resolve_secrets=True, request_max_retries=LOAD_MAX_RETRIES)
        snapshot = workspace.fetch_snapshot(previous=self.latest(), reserved_parts=reserved_key_parts())
        state_path.write_bytes(snapshot.to_json())
        self.fetched = snapshot

    def latest(self) -> WorkspaceSnapshot | None:
        """The latest stored version (its key parts are kept by the next fetch), or None."""
        storage = _storage()
        version = storage.get_latest_version(self.defs_state_config.key)
        if version is None:
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "state"
            storage.download_state_to_path(self.defs_state_config.key, version, path)
            try:
                return WorkspaceSnapshot.from_json(path.read_bytes(), where=f"defs state version {version}")
            except SnapshotError:
                return None  # unreadable: start over (key parts are recomputed)

    def refresh(self) -> WorkspaceSnapshot:
        """Fetch the workspace and store it as the latest version (what refresh.py runs)."""
        with _active_storage():
            asyncio.run(self.refresh_state(PROJECT_ROOT))
        return self.fetched

    # --- definitions ----------------------------------------------------------------------------
    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return self.load_defs()

    def load_defs(self) -> dg.Definitions:
        """Build from the pinned version (run workers) or the latest one, fetching it when needed."""
        with _active_storage() as storage:
            return self._load_defs(storage)

    def _load_defs(self, storage: DefsStateStorage) -> dg.Definitions:
        key = self.defs_state_config.key
        self.fetched: WorkspaceSnapshot | None = None
        load = DefinitionsLoadContext.get()
        if load.load_type == DefinitionsLoadType.INITIALIZATION:
            stored = load.get_defs_key_state_info(key)
            if self.airbyte.discovery == "live" or stored is None:
                try:
                    load.add_defs_state_info(key, asyncio.run(self.refresh_state(PROJECT_ROOT)))
                except Exception as exc:
                    if stored is None:
                        raise AirbyteSnapshotUnavailableError(
                            f"No Airbyte workspace state is stored for {key}, and fetching it failed: {exc}\n"
                            f"Run `{REFRESH_COMMAND}` (or `dg utils refresh-defs-state`) once Airbyte is "
                            "reachable, or set AIRBYTE_DISCOVERY=off to load only the declared connections."
                        ) from exc
                    dg.get_dagster_logger().warning(
                        f"Airbyte unreachable ({exc}); using the stored workspace state {stored.version}"
                    )
        elif load.get_defs_key_state_info(key) is None:
            # Reconstructed from a load that pinned no version (`dagster asset materialize -m` sets no
            # load context, so its step processes get none): the latest is the version it loaded.
            latest = storage.get_latest_version(key)
            if latest is not None:
                load.add_defs_state_info(key, latest)
        with load.state_path(self.defs_state_config, storage, PROJECT_ROOT) as path:
            return self.build_defs_from_state(None, path)  # type: ignore[arg-type]

    def build_defs_from_state(
        self, context: dg.ComponentLoadContext, state_path: Path | None
    ) -> dg.Definitions:
        from airbyte_platform.ingestion.airbyte_server.defs import build_airbyte_defs

        if state_path is None:
            raise AirbyteSnapshotUnavailableError(
                f"The Airbyte workspace state {self.defs_state_config.key} is not stored: run `{REFRESH_COMMAND}`"
            )
        from airbyte_platform.ingestion.airbyte_server.run_scope import run_scope

        fetched = getattr(self, "fetched", None)
        snapshot = fetched or WorkspaceSnapshot.from_json(state_path.read_bytes(), where=str(state_path))
        return build_airbyte_defs(self.settings, snapshot, run_scope(self.settings))


def _storage() -> DefsStateStorage:
    """The active instance's defs-state storage (code servers, run workers, `dg`, the CLI), else the
    one of the instance of DAGSTER_HOME (a plain `import airbyte_platform.definitions`)."""
    storage = DefsStateStorage.get() or _home_storage()
    if storage is None:
        raise AirbyteSnapshotUnavailableError(
            "No Dagster instance is active and DAGSTER_HOME is not set, so the Airbyte workspace state has "
            "nowhere to be read from: set DAGSTER_HOME (the instance whose defs-state storage holds it) or "
            "load the code location through `dagster`/`dg`."
        )
    return storage


@contextmanager
def _active_storage() -> Iterator[DefsStateStorage]:
    """`_storage()`, made the active one while Dagster's state API (which reads it from context) runs."""
    storage = _storage()
    if DefsStateStorage.get() is storage:
        yield storage
        return
    with set_defs_state_storage(storage):
        yield storage


_home_instance: list[dg.DagsterInstance] = []


def home_instance() -> dg.DagsterInstance | None:
    """The instance of DAGSTER_HOME, opened once per process; None when DAGSTER_HOME is not set."""
    if not _home_instance:
        try:
            _home_instance.append(dg.DagsterInstance.get())
        except DagsterHomeNotSetError:
            return None
    return _home_instance[0]


def _home_storage() -> DefsStateStorage | None:
    instance = home_instance()
    return instance.defs_state_storage if instance is not None else None


_latest_by_key: dict[str, tuple[str, WorkspaceSnapshot | None]] = {}


def stored_workspace(settings: Settings) -> WorkspaceSnapshot | None:
    """The latest stored workspace (events ask it which connections exist): from the active instance's
    storage, else from the instance of DAGSTER_HOME (the receiver's process); None when nothing is
    stored or no instance is configured. Downloaded again only when a newer version was stored."""
    storage = DefsStateStorage.get() or _home_storage()
    if storage is None:
        return None
    state = AirbyteWorkspaceState(settings)
    key = state.defs_state_config.key
    version = storage.get_latest_version(key)
    if version is None:
        return None
    cached = _latest_by_key.get(key)
    if cached is None or cached[0] != version:
        with set_defs_state_storage(storage):
            cached = (version, state.latest())
        _latest_by_key[key] = cached
    return cached[1]
