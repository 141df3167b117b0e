"""The declared connections of connections.yaml, parsed and validated once."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import yaml

from airbyte_platform.core.naming import clean_name
from airbyte_platform.settings import CONNECTION_ID_VARIABLES, JobLimits, parse_job_limits

CATALOG_PATH = Path(__file__).resolve().parent.parent / "connections.yaml"
Destination = Literal["lake", "postgres"]
SyncMode = Literal["incremental", "full_refresh"]

# Kinds shown as icons in the Dagster UI, per destination.
DESTINATION_KINDS: dict[str, set[str]] = {
    "lake": {"airbyte", "s3", "parquet"},
    "postgres": {"airbyte", "postgres"},
}


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class StreamSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor_field: str | None
    sync_mode: SyncMode
    min_records: int
    namespace: str | None = None

    @property
    def table_name(self) -> str:
        """Table / lake folder name: the cleaned stream name."""
        return clean_name(self.name)


@dataclass(frozen=True)
class LocalStandIn:
    connector: str  # "sample:<shape>" or "pypi:<requirement>"
    config: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # Seconds without connector output before a read is stopped (None: the runner's default, 3 h).
    inactivity_timeout_seconds: float | None = None


@dataclass(frozen=True)
class ConnectionSpec:
    name: str
    title: str
    source: str
    destination: Destination
    connection_id_variable: str
    description: str
    owners: tuple[str, ...]
    local: LocalStandIn
    streams: tuple[StreamSpec, ...]
    freshness_hours: float = 25.0
    job_limits: JobLimits = field(default_factory=JobLimits)  # `airbyte_job:` (prod Airbyte jobs)

    def asset_key(self, stream: StreamSpec | str) -> dg.AssetKey:
        stream_name = stream.name if isinstance(stream, StreamSpec) else stream
        return dg.AssetKey([self.destination, clean_name(self.source), clean_name(stream_name)])

    @property
    def group_name(self) -> str:
        return clean_name(self.source)

    @property
    def kinds(self) -> set[str]:
        return set(DESTINATION_KINDS[self.destination])

    def stream(self, name: str) -> StreamSpec:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"connection {self.name!r} has no stream {name!r}")

    def stream_for_key(self, key: dg.AssetKey) -> StreamSpec:
        for stream in self.streams:
            if self.asset_key(stream) == key:
                return stream
        raise KeyError(f"{key.to_user_string()} is not a stream of connection {self.name!r}")


def _parse_stream(raw: dict[str, Any], default_min: int, where: str) -> StreamSpec:
    try:
        name = str(raw["name"])
    except KeyError as exc:
        raise CatalogError(f"{where}: a stream has no name") from exc
    sync_mode = raw.get("sync_mode", "full_refresh")
    if sync_mode not in ("incremental", "full_refresh"):
        raise CatalogError(
            f"{where}.{name}: sync_mode must be incremental or full_refresh, not {sync_mode!r}"
        )
    if sync_mode == "incremental" and not raw.get("cursor_field"):
        raise CatalogError(f"{where}.{name}: an incremental stream needs a cursor_field")
    return StreamSpec(
        name=name,
        primary_key=tuple(raw.get("primary_key") or ()),
        cursor_field=raw.get("cursor_field"),
        sync_mode=sync_mode,
        min_records=int(raw.get("min_records", default_min)),
        namespace=raw.get("namespace"),
    )


def _job_limits(raw: Any, where: str) -> JobLimits:
    try:
        return parse_job_limits(raw, where)
    except ValueError as error:
        raise CatalogError(str(error)) from None


def _positive_seconds(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise CatalogError(f"{where} must be a positive number of seconds, not {value!r}")
    return float(value)


def parse_catalog(document: dict[str, Any]) -> tuple[ConnectionSpec, ...]:
    defaults = document.get("defaults") or {}
    default_min = int(defaults.get("min_records", 100))
    default_owners = tuple(defaults.get("owners") or ())
    default_freshness = float(defaults.get("freshness_hours", 25))
    connections: list[ConnectionSpec] = []
    for raw in document.get("connections") or []:
        name = raw.get("name") or "<unnamed>"
        where = f"connections.yaml: {name}"
        missing = [
            k
            for k in ("name", "source", "destination", "connection_id_variable", "local", "streams")
            if k not in raw
        ]
        if missing:
            raise CatalogError(f"{where}: missing {', '.join(missing)}")
        if raw["destination"] not in DESTINATION_KINDS:
            raise CatalogError(f"{where}: destination must be one of {sorted(DESTINATION_KINDS)}")
        if raw["connection_id_variable"] not in CONNECTION_ID_VARIABLES:
            raise CatalogError(
                f"{where}: connection_id_variable {raw['connection_id_variable']!r} is not declared in settings.CONNECTION_ID_VARIABLES"
            )
        connections.append(
            ConnectionSpec(
                name=raw["name"],
                title=raw.get("title", raw["name"]),
                source=raw["source"],
                destination=raw["destination"],
                connection_id_variable=raw["connection_id_variable"],
                description=raw.get("description", ""),
                owners=tuple(raw.get("owners") or default_owners),
                local=LocalStandIn(
                    connector=raw["local"]["connector"],
                    config=dict(raw["local"].get("config") or {}),
                    inactivity_timeout_seconds=_positive_seconds(
                        raw["local"].get("inactivity_timeout_seconds"),
                        f"{where}: local.inactivity_timeout_seconds",
                    ),
                ),
                streams=tuple(_parse_stream(s, default_min, where) for s in raw["streams"]),
                freshness_hours=float(raw.get("freshness_hours", default_freshness)),
                job_limits=_job_limits(raw.get("airbyte_job"), f"{where}: airbyte_job"),
            )
        )
    keys = [c.asset_key(s) for c in connections for s in c.streams]
    duplicates = sorted({k.to_user_string() for k in keys if keys.count(k) > 1})
    if duplicates:
        raise CatalogError(f"connections.yaml: asset keys declared twice: {', '.join(duplicates)}")
    return tuple(connections)


def load_catalog(path: Path = CATALOG_PATH) -> tuple[ConnectionSpec, ...]:
    with path.open() as handle:
        return parse_catalog(yaml.safe_load(handle))


@cache
def declared_connections() -> tuple[ConnectionSpec, ...]:
    return load_catalog()


def connection_named(name: str) -> ConnectionSpec:
    for connection in declared_connections():
        if connection.name == name:
            return connection
    raise KeyError(f"no declared connection named {name!r} (see connections.yaml)")
