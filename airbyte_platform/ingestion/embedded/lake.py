"""The lake destination: Parquet files under `<lake_root>/airbyte/<source>/<table>/` and a manifest.

The same code writes a local folder and `s3://` (pyarrow's filesystems). A stream folder holds data
files `part-<sync id>-<n>.parquet` and `_manifest.json`, which lists the files that make up the
table and the connector state they cover. A sync writes new files (invisible: no manifest lists
them), makes them durable, then replaces the manifest in one step (rename locally, one PUT on
S3). Readers go through the manifest (`lake_files`, `read_lake_table`), so they see the previous
sync or the new one, never a mix; a failed or killed sync leaves only unlisted files, removed by
the next sync. Full refresh lists only the new files; incremental lists the previous files too.
Files dropped by a full refresh are deleted one sync later, so a reader holding the previous
manifest can still finish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from airbyte_platform.core.lake import (
    MANIFEST,
    MANIFEST_FORMAT,
    LakeError,
    encode_schema,
    lake_filesystem,
    latest_row_indices,
    manifest_schema,
    parquet_files_under,
    read_in_order,
    read_manifest_at,
)
from airbyte_platform.ingestion.embedded import protocol
from airbyte_platform.ingestion.embedded.defaults import LOCK_TIMEOUT_SECONDS
from airbyte_platform.ingestion.embedded.destination import (
    PublishedStream,
    StateMessage,
    StreamPlan,
)
from airbyte_platform.ingestion.embedded.schema import EXTRACTED_AT, arrow_schema

LOCK_FILE = ".airbyte-sync.lock"  # dot-prefixed: ignored by Spark and by the no-manifest fallback
ROWS_PER_FILE = 1_000_000
ROW_GROUP_ROWS = 64 * 1024  # batches arrive by ~5k rows; readers scan big row groups faster, and a
# row group waits in memory until written: 64k rows of a wide stream are ~80 MB of Arrow data
_OUR_FILE = re.compile(r"^part-\d{8}T\d{6}Z-[0-9a-f]{8}-\d{5}\.parquet$")

_log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ destination


class LakeDestination:
    def __init__(
        self,
        *,
        log: logging.Logger | None = None,
        rows_per_file: int = ROWS_PER_FILE,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ):
        self.log = log or _log
        self.rows_per_file = rows_per_file
        self.lock_timeout = lock_timeout

    def session(self, connection_name: str, plans: list[StreamPlan], sync_id: str) -> LakeSyncSession:
        return LakeSyncSession(
            connection_name,
            plans,
            sync_id,
            log=self.log,
            rows_per_file=self.rows_per_file,
            lock_timeout=self.lock_timeout,
        )


@dataclass
class _StreamFolder:
    """One stream's folder during a sync: its previous manifest and the files this sync writes."""

    plan: StreamPlan
    filesystem: pafs.FileSystem
    path: str
    previous: dict[str, Any]
    lock: FileLock | None = None
    writer: pq.ParquetWriter | None = None
    pending: list[pa.RecordBatch] = field(default_factory=list)  # the next row group, not yet written
    pending_rows: int = 0
    rows_in_file: int = 0
    new_files: list[str] = field(default_factory=list)  # written since the last commit
    new_rows: int = 0
    files_started: int = 0  # by this sync: numbers its files
    initial_rows: int = 0  # rows readers saw before this sync
    claimed: bool = False  # this sync wrote the folder's first manifest (a claim with no data)
    committed: bool = False  # a checkpoint of this sync committed data

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)


class LakeSyncSession:
    """Stages Parquet files for each stream of one sync and publishes them with the state (see module doc)."""

    def __init__(
        self,
        connection_name: str,
        plans: list[StreamPlan],
        sync_id: str,
        *,
        log: logging.Logger,
        rows_per_file: int,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
    ):
        self.lock_timeout = lock_timeout
        self.connection_name = connection_name
        self.plans = plans
        self.sync_id = sync_id
        self.log = log
        self.rows_per_file = rows_per_file
        self.folders: dict[str, _StreamFolder] = {}
        self.published = False

    def __enter__(self) -> LakeSyncSession:
        try:
            for plan in self.plans:
                self.folders[plan.name] = self._open_folder(plan)
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self.published:
                self._discard()
        finally:
            self._release()

    def _open_folder(self, plan: StreamPlan) -> _StreamFolder:
        filesystem, path = lake_filesystem(plan.location)
        filesystem.create_dir(path, recursive=True)
        lock = _stream_lock(filesystem, path, plan.name, self.log, self.lock_timeout)
        previous = read_manifest_at(filesystem, path)
        if previous is None:
            # First sync into this folder: claim it with a manifest listing what is already there (nothing,
            # or files written by Airbyte's S3 destination), so files of an unfinished sync never show.
            existing = parquet_files_under(filesystem, path)
            rows = sum(
                pq.read_metadata(f"{path}/{name}", filesystem=filesystem).num_rows for name in existing
            )
            previous = self._manifest(files=existing, rows=rows, state=None, schema=None)
            _write_manifest(filesystem, path, previous)
            claimed = not existing
        else:
            claimed = False
        return _StreamFolder(
            plan=plan,
            filesystem=filesystem,
            path=path,
            previous=previous,
            lock=lock,
            initial_rows=int(previous.get("visible_rows", previous.get("rows", 0))),
            claimed=claimed,
        )

    def previous_state(self, stream: str) -> StateMessage | None:
        return self.folders[stream].previous.get("state")

    def committed_at(self, stream: str) -> str | None:
        previous = self.folders[stream].previous
        return previous.get("published_at") if previous.get("state") is not None else None

    def write(self, stream: str, batch: pa.RecordBatch) -> None:
        folder = self.folders[stream]
        folder.pending.append(batch)
        folder.pending_rows += batch.num_rows
        folder.new_rows += batch.num_rows
        if folder.pending_rows >= ROW_GROUP_ROWS:
            self._write_row_group(folder)

    def _write_row_group(self, folder: _StreamFolder) -> None:
        if not folder.pending:
            return
        if folder.writer is None or folder.rows_in_file >= self.rows_per_file:
            self._start_file(folder, folder.pending[0].schema)
        assert folder.writer is not None
        table = pa.Table.from_batches(folder.pending)
        folder.writer.write_table(table, row_group_size=table.num_rows)
        folder.rows_in_file += table.num_rows
        folder.pending, folder.pending_rows = [], 0

    def _start_file(self, folder: _StreamFolder, schema: pa.Schema) -> None:
        self._close_file(folder)
        name = f"part-{self.sync_id}-{folder.files_started:05d}.parquet"
        folder.files_started += 1
        folder.new_files.append(name)
        folder.writer = pq.ParquetWriter(f"{folder.path}/{name}", schema, filesystem=folder.filesystem)
        folder.rows_in_file = 0

    def _close_file(self, folder: _StreamFolder) -> None:
        if folder.writer is not None:
            folder.writer.close()
            folder.writer = None
            if folder.is_local:
                _fsync(f"{folder.path}/{folder.new_files[-1]}")

    def checkpoint(self, states: Mapping[str, StateMessage]) -> None:
        """Publish the files of incremental streams written so far with their states (see destination.py)."""
        for name, state in states.items():
            folder = self.folders[name]
            self._write_row_group(folder)
            self._close_file(folder)  # durable before the manifest names it
            self._publish_stream(folder, state)
            folder.committed = True

    def publish(self, states: Mapping[str, StateMessage | None]) -> dict[str, PublishedStream]:
        # Every data file is complete and durable before the first manifest names any of them.
        for folder in self.folders.values():
            self._finish_files(folder)
        published = {
            name: self._publish_stream(folder, states.get(name)) for name, folder in self.folders.items()
        }
        self.published = True
        return published

    def _finish_files(self, folder: _StreamFolder) -> None:
        self._write_row_group(folder)
        if not folder.new_files and (folder.plan.replaces or not folder.previous.get("files")):
            # An empty file: the table exists with its columns for every reader, Spark included.
            self._start_file(folder, arrow_schema(folder.plan.columns))
        self._close_file(folder)

    def _publish_stream(self, folder: _StreamFolder, state: StateMessage | None) -> PublishedStream:
        schema = arrow_schema(folder.plan.columns)
        previous_files: list[str] = list(folder.previous.get("files", []))
        if folder.plan.replaces:
            files, rows, retired = folder.new_files, folder.new_rows, previous_files
        else:
            files, rows, retired = (
                previous_files + folder.new_files,
                folder.previous["rows"] + folder.new_rows,
                [],
            )
            previous_schema = manifest_schema(folder.previous)
            if (
                previous_schema is not None
            ):  # columns added by the source since: older files read them as null
                schema = pa.unify_schemas([previous_schema, schema])
        visible = self._visible_rows(folder, files, rows)
        manifest = self._manifest(
            files=files,
            rows=rows,
            state=state,
            schema=schema,
            retired=retired,
            plan=folder.plan,
            visible=visible,
        )
        _write_manifest(folder.filesystem, folder.path, manifest)  # the commit point of this stream
        self._collect_garbage(folder, manifest)
        # What follows (a checkpoint's next files) builds on what this commit published.
        folder.previous, folder.new_files, folder.new_rows = manifest, [], 0
        return PublishedStream(
            total_rows=visible,
            columns=tuple((f.name, str(f.type)) for f in schema),
            location=folder.plan.location,
            previous_rows=folder.initial_rows,
            stored_rows=rows if folder.plan.deduplicates else None,
        )

    def _visible_rows(self, folder: _StreamFolder, files: list[str], rows: int) -> int:
        """Rows a reader sees: one per key for a deduplicated stream (the table's key, cursor and
        extraction columns are read: small next to the table, and only when it has any rows)."""
        plan = folder.plan
        if not plan.deduplicates or not files or rows == 0:
            return rows
        paths = [f"{folder.path}/{name}" for name in files]
        wanted = [
            *plan.spec.primary_key,
            *([plan.spec.cursor_field] if plan.spec.cursor_field else []),
            EXTRACTED_AT,
        ]
        present = set(
            pa.unify_schemas([pq.read_schema(p, filesystem=folder.filesystem) for p in paths]).names
        )
        table = read_in_order(folder.filesystem, paths, [c for c in wanted if c in present])
        cursor = plan.spec.cursor_field if plan.spec.cursor_field in present else None
        return len(latest_row_indices(table, plan.spec.primary_key, cursor))

    def _manifest(
        self,
        *,
        files: list[str],
        rows: int,
        state: StateMessage | None,
        schema: pa.Schema | None,
        retired: list[str] | None = None,
        plan: StreamPlan | None = None,
        visible: int | None = None,
    ) -> dict[str, Any]:
        deduplicated = plan is not None and plan.deduplicates
        return {
            "format": MANIFEST_FORMAT,
            "files": files,
            "rows": rows,  # stored: every version of every record
            # A deduplicated stream: readers take the latest row per key (see `latest_per_key`).
            "primary_key": list(plan.spec.primary_key) if deduplicated and plan is not None else None,
            "cursor_field": plan.spec.cursor_field if deduplicated and plan is not None else None,
            "visible_rows": rows if visible is None else visible,
            "state": state,
            "sync_id": self.sync_id,
            "connection": self.connection_name,
            "columns": [[f.name, str(f.type)] for f in schema] if schema is not None else [],
            "arrow_schema": encode_schema(schema) if schema is not None else None,
            "retired": retired or [],  # dropped by this sync; deleted by the next one
            "published_at": datetime.now(UTC).isoformat(),
        }

    def _collect_garbage(self, folder: _StreamFolder, manifest: Mapping[str, Any]) -> None:
        """Delete files retired one sync ago, and (under the local lock) files of syncs that never published."""
        keep = set(manifest["files"]) | set(manifest["retired"])
        doomed = [name for name in folder.previous.get("retired", []) if name not in keep]
        if folder.lock is not None:
            for info in folder.filesystem.get_file_info(pafs.FileSelector(folder.path)):
                name = info.base_name
                if _OUR_FILE.match(name) and name not in keep and name not in doomed:
                    doomed.append(name)
        for name in doomed:
            try:
                folder.filesystem.delete_file(f"{folder.path}/{name}")
            except FileNotFoundError:
                pass
            except OSError as exc:  # garbage left behind is harmless: no manifest lists it
                self.log.warning(f"{folder.plan.location}: could not delete unlisted file {name}: {exc}")

    def _discard(self) -> None:
        """After a failure: close and delete this sync's files (best effort; the next sync retries)."""
        for folder in self.folders.values():
            try:
                if folder.writer is not None:
                    folder.writer.close()
                    folder.writer = None
                for name in folder.new_files:
                    folder.filesystem.delete_file(f"{folder.path}/{name}")
                if folder.claimed and not folder.committed:
                    # A failed first sync leaves no table behind (not an empty one without columns).
                    folder.filesystem.delete_file(f"{folder.path}/{MANIFEST}")
            except OSError as exc:
                self.log.warning(f"{folder.plan.location}: could not remove files of the failed sync: {exc}")

    def _release(self) -> None:
        for folder in self.folders.values():
            if folder.lock is not None:
                folder.lock.release()


def _stream_lock(
    filesystem: pafs.FileSystem, path: str, stream: str, log: logging.Logger, timeout: float
) -> FileLock | None:
    """The stream folder's lock, held (None on object stores).

    Two local syncs of one stream would both build on the same previous state; the second waits.
    S3 has no lock: there, the orchestrator's one-run-per-connection rule is what serializes syncs.
    """
    if not isinstance(filesystem, pafs.LocalFileSystem):
        return None
    lock = FileLock(f"{path}/{LOCK_FILE}")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning(
            f"stream {stream}: another sync of it is running (it holds {lock.lock_file}); "
            f"waiting up to {timeout:g} s for it to finish"
        )
        try:
            lock.acquire(timeout=timeout)
        except Timeout as exc:
            raise LakeError(
                f"stream {stream}: gave up after {timeout:g} s waiting for another sync of "
                f"it to finish (it holds {lock.lock_file}); if none is running, its process is stuck: "
                "stop it (the embedded resource's lock_timeout_seconds sets the wait)"
            ) from exc
    return lock


@dataclass(frozen=True)
class ClearedLakeStream:
    location: str
    rows_before: int  # rows readers saw before the clear
    had_state: bool  # a connector state was saved (the next sync would have resumed from it)


def clear_lake_stream(
    location: str,
    connection_name: str,
    clear_id: str,
    *,
    log: logging.Logger | None = None,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> ClearedLakeStream:
    """Empty one stream folder and forget its state, in one manifest replacement (Airbyte's reset/clear).

    The new manifest lists one empty file with the table's columns (so Spark and every reader see an
    empty table, not a missing one) and no state, so the next sync starts from scratch. The old data
    files are listed as retired: a reader holding the previous manifest can still finish, and the
    next sync deletes them, as a full refresh's files are. Other folders are never touched.
    """
    log = log or _log
    filesystem, path = lake_filesystem(location)
    previous = read_manifest_at(filesystem, path)
    if previous is None and not parquet_files_under(filesystem, path):
        return ClearedLakeStream(location=location, rows_before=0, had_state=False)  # never synced
    lock = _stream_lock(filesystem, path, location, log, lock_timeout)
    try:
        previous = read_manifest_at(filesystem, path)  # again, under the lock: a sync may have published
        if previous is None:  # files of Airbyte's own S3 destination, never listed by us
            files = parquet_files_under(filesystem, path)
            previous = {"files": files, "rows": 0, "visible_rows": 0, "state": None, "retired": []}
        schema = manifest_schema(previous) or (
            pq.read_schema(f"{path}/{previous['files'][0]}", filesystem=filesystem)
            if previous.get("files")
            else pa.schema([])
        )
        empty = f"part-{clear_id}-00000.parquet"
        with filesystem.open_output_stream(f"{path}/{empty}") as stream:
            pq.write_table(schema.empty_table(), stream)
        if isinstance(filesystem, pafs.LocalFileSystem):
            _fsync(f"{path}/{empty}")
        retired = [name for name in previous.get("files", []) if name != empty]
        manifest = {
            "format": MANIFEST_FORMAT,
            "files": [empty],
            "rows": 0,
            "primary_key": previous.get("primary_key"),
            "cursor_field": previous.get("cursor_field"),
            "visible_rows": 0,
            "state": None,
            "sync_id": clear_id,
            "connection": connection_name,
            "columns": [[f.name, str(f.type)] for f in schema],
            "arrow_schema": encode_schema(schema),
            "retired": retired,
            "cleared_at": datetime.now(UTC).isoformat(),
            "published_at": datetime.now(UTC).isoformat(),
        }
        _write_manifest(filesystem, path, manifest)  # the commit point of the clear
        # Files retired one publish ago are no longer listed anywhere a reader could still hold.
        for name in previous.get("retired", []):
            if name not in retired and name != empty:
                with contextlib.suppress(FileNotFoundError):
                    filesystem.delete_file(f"{path}/{name}")
    finally:
        if lock is not None:
            lock.release()
    return ClearedLakeStream(
        location=location,
        rows_before=int(previous.get("visible_rows", previous.get("rows", 0))),
        had_state=previous.get("state") is not None,
    )


def _write_manifest(filesystem: pafs.FileSystem, path: str, manifest: Mapping[str, Any]) -> None:
    """Replace the manifest in one step: temp file + rename locally, a single PUT on object stores."""
    payload = protocol.dumps(manifest).encode()
    target = f"{path}/{MANIFEST}"
    if isinstance(filesystem, pafs.LocalFileSystem):
        temporary = f"{path}/.{MANIFEST}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        _fsync(path)  # the rename itself is durable once the directory is synced
    else:
        with filesystem.open_output_stream(target) as stream:
            stream.write(payload)


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
