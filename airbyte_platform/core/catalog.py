"""The declared connections of connections.yaml, parsed and validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import dagster as dg
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


# ------------------------------------------------------------------ connections.yaml, as typed models
# The file is validated by these models (unknown keys are errors: a typo such as `primary_keys` must not
# silently become "no primary key"), then turned into the frozen specs above.


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _StreamEntry(_Entry):
    name: str
    sync_mode: SyncMode = "full_refresh"
    primary_key: list[str] = Field(default_factory=list)
    cursor_field: str | None = None
    min_records: int | None = Field(default=None, ge=0)
    namespace: str | None = None

    @model_validator(mode="after")
    def _incremental_needs_a_cursor(self) -> _StreamEntry:
        if self.sync_mode == "incremental" and not self.cursor_field:
            raise ValueError("an incremental stream needs a cursor_field")
        return self


class _LocalEntry(_Entry):
    connector: str  # "sample:<shape>" or "pypi:<requirement>"
    config: dict[str, Any] = Field(default_factory=dict)
    inactivity_timeout_seconds: float | None = None

    @field_validator("inactivity_timeout_seconds", mode="before")
    @classmethod
    def _seconds_as_a_number(cls, value: Any) -> Any:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
        ):
            raise ValueError(f"must be a positive number of seconds, not {value!r}")
        return value


class _ConnectionEntry(_Entry):
    name: str
    title: str | None = None
    source: str
    destination: Destination
    connection_id_variable: str
    description: str = ""
    owners: list[str] | None = None
    local: _LocalEntry
    streams: list[_StreamEntry] = Field(min_length=1)
    freshness_hours: float | None = Field(default=None, gt=0)
    airbyte_job: dict[str, Any] | None = (
        None  # checked by settings.parse_job_limits, as AIRBYTE_JOB_LIMITS is
    )

    @field_validator("connection_id_variable")
    @classmethod
    def _declared_variable(cls, value: str) -> str:
        if value not in CONNECTION_ID_VARIABLES:
            raise ValueError(f"is {value!r}, which is not declared in settings.CONNECTION_ID_VARIABLES")
        return value


class _Defaults(_Entry):
    min_records: int = Field(default=100, ge=0)
    owners: list[str] = Field(default_factory=list)
    freshness_hours: float = Field(default=25.0, gt=0)


class _CatalogDocument(_Entry):
    defaults: _Defaults = Field(default_factory=_Defaults)
    connections: list[_ConnectionEntry] = Field(default_factory=list)


def _where(document: Mapping[str, Any], location: tuple[int | str, ...]) -> str:
    """`connections.yaml: stripe_to_s3: streams.charges.sync_mode` from pydantic's location tuple."""
    parts: list[str] = []
    node: Any = document
    for index, step in enumerate(location):
        node = node[step] if isinstance(node, Mapping | list) and _has(node, step) else None
        if isinstance(step, int):
            name = node.get("name") if isinstance(node, Mapping) else None
            label = str(name) if name else f"#{step + 1}"
            parts.append(label if index == 1 else f"{parts.pop()}.{label}" if parts else label)
        elif location[:1] == ("connections",) and index == 0:
            continue
        else:
            parts.append(str(step))
    head, *rest = parts or ["(top level)"]
    return f"connections.yaml: {head}" + (f": {'.'.join(rest)}" if rest else "")


def _has(node: Mapping[str, Any] | list[Any], step: int | str) -> bool:
    if isinstance(node, list):
        return isinstance(step, int) and 0 <= step < len(node)
    return step in node


def _message(error: Mapping[str, Any]) -> str:
    """What follows the location: ` must be ...`, ` is missing`, or `: <pydantic's message>`."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        return f" must be one of {context.get('expected')}, not {error.get('input')!r}"
    if kind == "missing":
        return " is missing"
    if kind == "extra_forbidden":
        return " is not a known key (a typo?)"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f" {message}" if message.startswith(("must ", "is ")) else f": {message}"


def _validated(document: Any) -> _CatalogDocument:
    try:
        return _CatalogDocument.model_validate(document or {})
    except ValidationError as invalid:
        problems = [f"{_where(document or {}, e['loc'])}{_message(e)}" for e in invalid.errors()]
        raise CatalogError("\n".join(problems)) from None


def _job_limits(raw: Any, where: str) -> JobLimits:
    try:
        return parse_job_limits(raw, where)
    except ValueError as error:
        raise CatalogError(str(error)) from None


def parse_catalog(document: dict[str, Any]) -> tuple[ConnectionSpec, ...]:
    parsed = _validated(document)
    defaults = parsed.defaults
    connections = tuple(
        ConnectionSpec(
            name=entry.name,
            title=entry.title or entry.name,
            source=entry.source,
            destination=entry.destination,
            connection_id_variable=entry.connection_id_variable,
            description=entry.description,
            owners=tuple(entry.owners if entry.owners is not None else defaults.owners),
            local=LocalStandIn(
                connector=entry.local.connector,
                config=dict(entry.local.config),
                inactivity_timeout_seconds=entry.local.inactivity_timeout_seconds,
            ),
            streams=tuple(
                StreamSpec(
                    name=stream.name,
                    primary_key=tuple(stream.primary_key),
                    cursor_field=stream.cursor_field,
                    sync_mode=stream.sync_mode,
                    min_records=stream.min_records
                    if stream.min_records is not None
                    else defaults.min_records,
                    namespace=stream.namespace,
                )
                for stream in entry.streams
            ),
            freshness_hours=entry.freshness_hours or defaults.freshness_hours,
            job_limits=_job_limits(entry.airbyte_job, f"connections.yaml: {entry.name}: airbyte_job"),
        )
        for entry in parsed.connections
    )
    keys = [c.asset_key(s) for c in connections for s in c.streams]
    duplicates = sorted({k.to_user_string() for k in keys if keys.count(k) > 1})
    if duplicates:
        raise CatalogError(f"connections.yaml: asset keys declared twice: {', '.join(duplicates)}")
    return connections


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
