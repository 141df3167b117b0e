"""The embedded Airbyte runner: sync a declared connection locally, the way the Airbyte platform would.

One sync = resolve the connector (installing a PyPI connector on first use), `spec` (validate the
config), `check`, `discover`, then `read` with a configured catalog of the selected streams and the
state committed by the previous sync, into the lake or PostgreSQL. The destination publishes the
data and the new state together after the connector finished cleanly (every stream COMPLETE);
incremental streams also commit at checkpoints (data up to a STATE, with it). Any failure raises
`EmbeddedSyncError` naming the connection, the connector and the stream, with the connector's last
stderr lines, and leaves the previous data and state as they were, plus what checkpoints committed.
docs/sync-semantics.md states what each destination and mode stores.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pyarrow as pa

from airbyte_platform.core.catalog import ConnectionSpec, StreamSpec
from airbyte_platform.core.lake import LakeError
from airbyte_platform.core.specs import destination_location, postgres_schema
from airbyte_platform.ingestion.embedded import protocol
from airbyte_platform.ingestion.embedded.connectors import ConnectorCommand, ConnectorError, resolve_connector
from airbyte_platform.ingestion.embedded.defaults import CHECKPOINT_SECONDS, LOCK_TIMEOUT_SECONDS
from airbyte_platform.ingestion.embedded.destination import (
    DestinationSession,
    StateMessage,
    StreamPlan,
)
from airbyte_platform.ingestion.embedded.lake import LakeDestination
from airbyte_platform.ingestion.embedded.postgres import PostgresDestination, PostgresDestinationError
from airbyte_platform.ingestion.embedded.prepared import PreparedCache
from airbyte_platform.ingestion.embedded.process import (
    INACTIVITY_TIMEOUT_SECONDS,
    AirbyteConnector,
    ConnectorFailure,
)
from airbyte_platform.ingestion.embedded.read_loop import (
    ReadFailure,
    ReadLoop,
    ReadOutcome,
)
from airbyte_platform.ingestion.embedded.schema import SchemaError, columns_from_json_schema

_log = logging.getLogger(__name__)
_SPECS: dict[str, dict[str, Any]] = {}  # connector reference -> its spec (sample and pinned PyPI connectors)


@dataclass(frozen=True)
class StreamSyncResult:
    stream: str  # stream name as in the catalog
    records_synced: int  # records written by this sync
    bytes_synced: int  # bytes of record data read from the connector for this stream
    total_rows: int  # rows visible in the destination after publish
    columns: list[tuple[str, str]]  # (column name, type) of the destination table
    location: str  # lake URI of the stream folder, or "schema.table" in PostgreSQL
    duration_seconds: float
    sync_id: str
    state: Mapping[str, Any] | None  # the connector state committed with this sync (the stream's own state)
    # Seconds of the sync's steps, shared by its streams: "prepare" (install, spec, check, discover),
    # "read" (the connector's read into staged data), "publish" (data and state made visible).
    phase_seconds: Mapping[str, float] = field(default_factory=dict)
    # How records_synced and total_rows relate: rows_added = total_rows - rows before the sync; for a
    # deduplicated stream, records_synced - rows_added records replaced a row (or an older version).
    rows_added: int = 0
    records_without_primary_key: int = 0  # deduplicated stream: kept unmerged, flagged in _airbyte_meta
    stored_rows: int | None = None  # the lake keeps every version: rows stored, when more than total_rows
    warnings: tuple[str, ...] = ()  # what the run log warned about this stream


class EmbeddedSyncError(RuntimeError):
    """A sync failed; the message names the connection, the connector and the stream."""

    def __init__(
        self,
        connection: ConnectionSpec,
        stream: str | None,
        problem: str,
        stderr_tail: str = "",
        *,
        streams: Sequence[str] | None = None,
    ):
        """`stream`: the stream the sync was on; when unknown, `streams` (default: all declared) are named."""
        names = streams if streams is not None else [s.name for s in connection.streams]
        where = f"stream {stream!r}" if stream else "streams " + ", ".join(names)
        message = f"sync of connection {connection.name!r} (connector {connection.local.connector}), {where}: {problem}"
        if stderr_tail:
            message += f"\n--- connector stderr (last lines) ---\n{stderr_tail}"
        super().__init__(message)
        self.connection = connection.name
        self.stream = stream
        self.problem = problem


def new_sync_id() -> str:
    """Sortable by time, unique across processes: `20261103T101500Z-9f2c4e1a`."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


class EmbeddedAirbyteRunner:
    def __init__(
        self,
        *,
        connectors_dir: Path,
        lake_root: str,
        postgres_dsn: str | None,
        log: logging.Logger | None = None,
        progress_every: int = 100_000,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        inactivity_timeout: float = INACTIVITY_TIMEOUT_SECONDS,
        lock_timeout: float = LOCK_TIMEOUT_SECONDS,
        prepared: PreparedCache | bool = True,
    ):
        """`checkpoint_seconds`: how often at most an incremental sync commits its data up to a STATE
        (0: at every STATE); `clock` measures it (injected by tests). `inactivity_timeout`: seconds
        without connector output before a read is stopped, unless the connection sets its own
        (local.inactivity_timeout_seconds). `lock_timeout`: how long a sync waits for another sync
        of the same stream to finish."""
        self.inactivity_timeout = inactivity_timeout
        self.lock_timeout = lock_timeout
        # spec/check/discover answers kept per connector version and config (False: ask every sync).
        self.prepared: PreparedCache | None = (
            prepared
            if isinstance(prepared, PreparedCache)
            else PreparedCache(connectors_dir / "_prepared")
            if prepared
            else None
        )
        self.connectors_dir = connectors_dir
        self.lake_root = lake_root.rstrip("/")
        self.postgres_dsn = postgres_dsn
        self.log = log or _log
        self.progress_every = progress_every
        self.checkpoint_seconds = checkpoint_seconds
        self.clock = clock

    def sync(
        self,
        connection: ConnectionSpec,
        streams: Sequence[str] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
    ) -> list[StreamSyncResult]:
        """Sync `streams` (default: all) of `connection`; `config` entries override `connection.local.config`."""
        selected = self._selected(connection, streams)
        if not selected:
            return []
        sync_id = new_sync_id()
        started = time.monotonic()
        merged_config = {**connection.local.config, **(config or {})}
        label = f"{connection.name} ({connection.local.connector})"
        self.log.info(
            f"{label}: sync {sync_id} of {', '.join(s.name for s in selected)} to {connection.destination}"
        )
        phases: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix=f"airbyte-{connection.name}-") as workdir:
            with self._failures(connection, selected):
                connector, config_path, plans, prepared_key = self._prepare(
                    connection, selected, merged_config, Path(workdir), label
                )
            phases["prepare"] = time.monotonic() - started
            with (
                self._forgetting(prepared_key),
                self._failures(connection, selected),
                self._destination(connection, plans, sync_id) as session,
            ):
                previous = {plan.name: session.previous_state(plan.name) for plan in plans}
                # Full refresh streams start from scratch; GLOBAL state (CDC) is sent once.
                state, merged = protocol.input_state(
                    {p.name: previous[p.name] for p in plans if previous[p.name] and not p.replaces},
                    {p.name: session.committed_at(p.name) for p in plans},
                )
                if merged:
                    self.log.warning(f"{label}: {merged}")
                reading = time.monotonic()
                outcome = ReadLoop(
                    connector,
                    plans,
                    session,
                    log=self.log,
                    progress_every=self.progress_every,
                    checkpoint_seconds=self.checkpoint_seconds,
                    clock=self.clock,
                    inactivity_timeout=connection.local.inactivity_timeout_seconds or self.inactivity_timeout,
                ).run(
                    config_path,
                    protocol.configured_catalog([plan.configured for plan in plans]),
                    state,
                )
                committed = {plan.name: _state_to_commit(plan, outcome.states, previous) for plan in plans}
                publishing = time.monotonic()
                phases["read"] = publishing - reading
                published = session.publish(committed)
                phases["publish"] = time.monotonic() - publishing
        duration = time.monotonic() - started
        for stream, fields in outcome.undeclared_fields.items():
            self.log.warning(
                f"{label}: stream {stream} sent fields its schema does not declare, kept in _airbyte_meta: "
                f"{', '.join(sorted(fields))}"
            )
        warnings = _warnings(plans, outcome)
        for stream_warnings in warnings.values():
            for warning in stream_warnings:
                self.log.warning(f"{label}: {warning}")
        results = [
            StreamSyncResult(
                stream=plan.name,
                records_synced=outcome.records[plan.name],
                bytes_synced=outcome.bytes[plan.name],
                total_rows=published[plan.name].total_rows,
                columns=list(published[plan.name].columns),
                location=published[plan.name].location,
                duration_seconds=duration,
                sync_id=sync_id,
                state=protocol.stream_state_value(committed[plan.name]),
                phase_seconds=dict(phases),
                rows_added=published[plan.name].total_rows - published[plan.name].previous_rows,
                records_without_primary_key=outcome.keyless[plan.name].count
                if plan.name in outcome.keyless
                else 0,
                stored_rows=published[plan.name].stored_rows,
                warnings=tuple(warnings[plan.name]),
            )
            for plan in plans
        ]
        total = sum(r.records_synced for r in results)
        self.log.info(
            f"{label}: sync {sync_id} published {total:,} records in {duration:.1f} s "
            f"({total / max(duration, 1e-9):,.0f} records/s; "
            + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in phases.items())
            + ")"
        )
        return results

    def prepare(
        self,
        connection: ConnectionSpec,
        streams: Sequence[str] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Ask the connector for spec, check and discover now and keep the answers for the next syncs
        (what setting up a connection or refreshing its schema does on the Airbyte platform)."""
        selected = self._selected(connection, streams)
        merged_config = {**connection.local.config, **(config or {})}
        label = f"{connection.name} ({connection.local.connector})"
        with (
            tempfile.TemporaryDirectory(prefix=f"airbyte-{connection.name}-") as workdir,
            self._failures(connection, selected),
        ):
            self._prepare(connection, selected, merged_config, Path(workdir), label)

    def _prepare(
        self,
        connection: ConnectionSpec,
        selected: list[StreamSpec],
        config: dict[str, Any],
        workdir: Path,
        label: str,
    ) -> tuple[AirbyteConnector, Path, list[StreamPlan], str | None]:
        """Resolve (maybe install) the connector, validate the config, `check`, `discover` and plan each
        stream; the answers of an earlier sync of this connector version and config are reused (see
        prepared.py). Returns the key of those answers, to forget them if the sync fails.

        `spec`, `check` and `discover` run at the same time: each is a separate connector process that
        only reads the config, and each pays the connector's start-up (a Python CDK connector takes
        1-3 s to import), which would otherwise be paid three times in a row before `read` starts.
        Their answers are still judged in protocol order, so an invalid config is reported as such
        (not as the failed check it also causes) and a failed check before anything `discover` says.
        """
        command = resolve_connector(connection.local.connector, self.connectors_dir, self.log)
        connector = AirbyteConnector(command.argv, workdir=workdir, log=self.log, label=label)
        config_path = connector.write_json("config.json", config)
        key = self.prepared.key(command, config) if self.prepared is not None else None
        kept = self.prepared.get(key) if self.prepared is not None and key is not None else None
        if kept is not None:
            _validate_config(kept.spec, config)
            try:
                plans = self._plans(connection, selected, kept.discovered)
            except EmbeddedSyncError:  # a stream the kept catalog lacks: ask the connector again
                pass
            else:
                self.log.info(
                    f"{label}: spec, check and discover answered by the connector at "
                    f"{datetime.fromtimestamp(kept.prepared_at, UTC):%Y-%m-%d %H:%M:%S} UTC, reused"
                )
                return connector, config_path, plans, key
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix=f"setup {label}") as pool:
            known_spec = _known_spec(command)
            spec = pool.submit(connector.spec) if known_spec is None else None
            check = pool.submit(connector.check, config_path)
            discover = pool.submit(connector.discover, config_path)
            try:
                if spec is not None:
                    known_spec = _remember_spec(command, spec.result())
                _validate_config(known_spec or {}, config)
                check.result()
                discovered = discover.result()
            except BaseException:
                connector.cancel()  # the answers still running cannot change the outcome any more
                raise
        plans = self._plans(connection, selected, discovered)
        if self.prepared is not None and key is not None:
            self.prepared.put(key, known_spec or {}, discovered)
        return connector, config_path, plans, key

    # ---------------------------------------------------------------------------------------- steps

    @staticmethod
    def _selected(connection: ConnectionSpec, streams: Sequence[str] | None) -> list[StreamSpec]:
        if streams is None:
            return list(connection.streams)
        declared = {s.name for s in connection.streams}
        unknown = [name for name in streams if name not in declared]
        if unknown:
            raise EmbeddedSyncError(
                connection, unknown[0], f"not a declared stream; declared: {', '.join(sorted(declared))}"
            )
        return [s for s in connection.streams if s.name in set(streams)]

    def _plans(
        self, connection: ConnectionSpec, selected: list[StreamSpec], discovered: list[dict[str, Any]]
    ) -> list[StreamPlan]:
        plans = []
        for spec in selected:
            stream = _discovered_stream(discovered, spec)
            if stream is None:
                offered = ", ".join(sorted(str(s.get("name")) for s in discovered))
                raise EmbeddedSyncError(
                    connection, spec.name, f"the connector does not offer it (it offers {offered})"
                )
            try:
                plans.append(self._plan(connection, spec, stream))
            except (SchemaError, ValueError) as exc:
                raise EmbeddedSyncError(connection, spec.name, str(exc)) from exc
        return plans

    def _plan(self, connection: ConnectionSpec, spec: StreamSpec, stream: dict[str, Any]) -> StreamPlan:
        columns = columns_from_json_schema(stream.get("json_schema") or {}, spec.name)
        names = {c.name for c in columns}
        supported = stream.get("supported_sync_modes") or ["full_refresh"]
        if spec.sync_mode not in supported:
            raise ValueError(
                f"sync_mode {spec.sync_mode} is not supported by the connector (it supports {supported})"
            )
        for role, fields in (("primary key", spec.primary_key), ("cursor field", (spec.cursor_field or "",))):
            missing = [f for f in fields if f and f not in names]
            if missing:
                raise ValueError(
                    f"{role} {missing} not in the discovered schema (fields: {', '.join(sorted(names))})"
                )
        configured = protocol.ConfiguredStream(
            airbyte_stream=stream,
            sync_mode=spec.sync_mode,
            cursor_field=spec.cursor_field if spec.sync_mode == "incremental" else None,
            primary_key=spec.primary_key,
            destination_deduplicates=connection.destination != "lake",
        )
        return StreamPlan(
            spec=spec,
            configured=configured,
            columns=columns,
            location=destination_location(connection, spec, self.lake_root),
        )

    def _destination(
        self, connection: ConnectionSpec, plans: list[StreamPlan], sync_id: str
    ) -> DestinationSession:
        if connection.destination == "lake":
            return LakeDestination(log=self.log, lock_timeout=self.lock_timeout).session(
                connection.name, plans, sync_id
            )
        if not self.postgres_dsn:
            raise EmbeddedSyncError(
                connection, None, "it writes to PostgreSQL but the runner has no postgres_dsn"
            )
        return PostgresDestination(
            self.postgres_dsn, postgres_schema(connection), log=self.log, lock_timeout=self.lock_timeout
        ).session(connection.name, plans, sync_id)

    @contextmanager
    def _forgetting(self, prepared_key: str | None) -> Iterator[None]:
        """A failed sync forgets the kept spec/check/discover answers: the next one asks again."""
        try:
            yield
        except BaseException:
            if self.prepared is not None and prepared_key is not None:
                self.prepared.forget(prepared_key)
            raise

    @staticmethod
    @contextmanager
    def _failures(connection: ConnectionSpec, selected: list[StreamSpec]) -> Iterator[None]:
        """Turn every way a sync can fail into one EmbeddedSyncError naming connection, connector and stream."""
        names = [s.name for s in selected]
        try:
            yield
        except EmbeddedSyncError:
            raise
        except ReadFailure as exc:
            raise EmbeddedSyncError(
                connection, exc.stream, exc.problem, exc.stderr_tail, streams=names
            ) from exc
        except ConnectorFailure as exc:
            raise EmbeddedSyncError(connection, None, exc.problem, exc.stderr_tail, streams=names) from exc
        except (ConnectorError, _ConfigError) as exc:
            raise EmbeddedSyncError(connection, None, str(exc), streams=names) from exc
        except (LakeError, PostgresDestinationError, psycopg.Error, OSError, pa.ArrowException) as exc:
            raise EmbeddedSyncError(
                connection, None, f"destination {connection.destination}: {exc}", streams=names
            ) from exc


def _known_spec(command: ConnectorCommand) -> dict[str, Any] | None:
    """The spec of a connector version asked before, as the Airbyte platform asks once per version: in
    this process, or (a pinned PyPI version) kept next to its install. A `python:` script may change
    between syncs while it is developed: never kept."""
    if command.reference.startswith("python:"):
        return None
    if command.reference not in _SPECS:
        known = command.known_spec()
        if known is None:
            return None
        _SPECS[command.reference] = known
    return _SPECS[command.reference]


def _remember_spec(command: ConnectorCommand, spec: dict[str, Any]) -> dict[str, Any]:
    if not command.reference.startswith("python:"):
        _SPECS[command.reference] = spec
        command.remember_spec(spec)
    return spec


def _warnings(plans: Sequence[StreamPlan], outcome: ReadOutcome) -> dict[str, list[str]]:
    """Per stream, what the run log and the materialization should say went wrong without failing."""
    warnings: dict[str, list[str]] = {plan.name: [] for plan in plans}
    for plan in plans:
        read = outcome.records.get(plan.name, 0)
        if plan.incremental and read and plan.name not in outcome.states:
            warnings[plan.name].append(
                f"stream {plan.name} is incremental but the connector emitted no STATE: its state did not "
                f"advance, so the next sync reads these {read:,} records again"
                + (
                    " (readers still see one row per primary key)"
                    if plan.deduplicates
                    else " (appended again)"
                )
            )
        keyless = outcome.keyless.get(plan.name)
        if keyless is not None and keyless.count:
            warnings[plan.name].append(keyless.describe(plan.name, plan.configured.primary_key))
    return warnings


def _state_to_commit(
    plan: StreamPlan, emitted: Mapping[str, StateMessage], previous: Mapping[str, StateMessage | None]
) -> StateMessage | None:
    """The last state the connector emitted; an incremental stream that emitted none keeps its previous one."""
    if plan.name in emitted:
        return emitted[plan.name]
    return None if plan.replaces else previous.get(plan.name)


class _ConfigError(ValueError):
    pass


def _validate_config(spec: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Check the config against the connector's `connectionSpecification`, listing every problem at once."""
    schema = spec.get("connectionSpecification") or {}
    validator = jsonschema.Draft7Validator(schema)
    problems = sorted(
        f"{'.'.join(str(p) for p in error.absolute_path) or '<config>'}: {error.message}"
        for error in validator.iter_errors(dict(config))
    )
    if problems:
        raise _ConfigError("invalid connector config (connections.yaml local.config): " + "; ".join(problems))


def _discovered_stream(discovered: list[dict[str, Any]], spec: StreamSpec) -> dict[str, Any] | None:
    for stream in discovered:
        if stream.get("name") == spec.name and (
            spec.namespace is None or stream.get("namespace") in (None, spec.namespace)
        ):
            return stream
    return None
