"""What the runner needs from a destination (the lake or PostgreSQL) during one sync.

A destination session stages every record batch where readers cannot see it, then `publish`
makes the staged data and the connector state covering it visible together, atomically per
stream (the lake) or for all streams at once (PostgreSQL). Incremental streams may also commit
mid-sync at `checkpoint`s (the data up to a STATE, with it), as Airbyte's destinations do. A
session left without publishing (an error, or a killed process) changes nothing that readers or
the next sync see beyond its checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import pyarrow as pa

from airbyte_platform.core.catalog import StreamSpec
from airbyte_platform.ingestion.embedded.protocol import OVERWRITE, ConfiguredStream
from airbyte_platform.ingestion.embedded.schema import Column

StateMessage = Mapping[str, Any]  # an Airbyte STATE message (type STREAM, GLOBAL or LEGACY)


@dataclass(frozen=True)
class StreamPlan:
    """One stream to sync: its declaration, its configured-catalog entry, its columns and where it lands."""

    spec: StreamSpec
    configured: ConfiguredStream
    columns: tuple[Column, ...]
    location: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def replaces(self) -> bool:
        """Full refresh: the published data replaces the previous data instead of adding to it."""
        return self.configured.destination_sync_mode == OVERWRITE

    @property
    def incremental(self) -> bool:
        return self.configured.sync_mode == "incremental"

    @property
    def deduplicates(self) -> bool:
        """Incremental with a primary key: readers see one row per key, the latest by cursor."""
        return self.incremental and bool(self.spec.primary_key)


@dataclass(frozen=True)
class PublishedStream:
    total_rows: int  # rows a reader sees (one per key for a deduplicated stream)
    columns: tuple[tuple[str, str], ...]
    location: str
    previous_rows: int = 0  # rows a reader saw before this sync
    stored_rows: int | None = None  # rows physically stored, when more than readers see (the lake)


class DestinationSession(Protocol):
    """One sync's view of a destination; use it as a context manager."""

    def __enter__(self) -> DestinationSession: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def previous_state(self, stream: str) -> StateMessage | None:
        """The state committed by the last published sync of `stream`."""
        ...

    def committed_at(self, stream: str) -> str | None:
        """When that state was committed (ISO 8601, UTC; sortable): orders GLOBAL states of streams."""
        ...

    def write(self, stream: str, batch: pa.RecordBatch) -> None:
        """Stage a batch; invisible to readers until `publish`."""
        ...

    def checkpoint(self, states: Mapping[str, StateMessage]) -> None:
        """Incremental streams mid-sync: make the data staged so far visible with the state covering
        it, durably; staging goes on after it. A later failure keeps what a checkpoint committed."""
        ...

    def publish(self, states: Mapping[str, StateMessage | None]) -> dict[str, PublishedStream]:
        """Make the staged data visible with its state, after the data is durable."""
        ...
