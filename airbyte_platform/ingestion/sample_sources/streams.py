"""A sample stream: its catalog entry, its record count, its cursor timeline and its record renderer.

Record `i` of a stream is a pure function of (seed, i): the cursor timeline is strictly increasing
in `i`, so "records whose cursor is greater than the state" is "records from some index on", found
by bisection, and a bigger `records` setting only appends records (the source "grew" since the
last sync), which is what an incremental sync of a real source sees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from airbyte_platform.ingestion.sample_sources.dice import Dice
from airbyte_platform.ingestion.sample_sources.fields import Field, object_template, properties_schema
from airbyte_platform.ingestion.sample_sources.lazy import numpy as np

# Every record is stamped with this extraction time: wall-clock time would make output differ per run.
EMITTED_AT_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class CursorError(ValueError):
    pass


@dataclass(frozen=True)
class UnixSecondsCursor:
    """An integer cursor in seconds since the epoch (Stripe's `created`)."""

    def to_json(self, ticks: np.ndarray) -> list[Any]:
        return ticks.tolist()

    def parse(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise CursorError(f"expected unix seconds, got {value!r}")
        try:
            return int(float(value))
        except ValueError as exc:
            raise CursorError(f"expected unix seconds, got {value!r}") from exc


@dataclass(frozen=True)
class IsoCursor:
    """An ISO-8601 timestamp cursor held as integer ticks of `unit` ("ms" or "us") since the epoch."""

    unit: str
    suffix: str  # the zone designator as the real connector writes it: "Z" or "+0000"

    def to_json(self, ticks: np.ndarray) -> list[Any]:
        text = np.datetime_as_string(ticks.astype(f"datetime64[{self.unit}]"), unit=self.unit)
        return np.strings.add(text, self.suffix).tolist()

    def parse(self, value: Any) -> int:
        if not isinstance(value, str):
            raise CursorError(f"expected an ISO-8601 timestamp, got {value!r}")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CursorError(f"expected an ISO-8601 timestamp, got {value!r}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        epoch_us = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
        return epoch_us if self.unit == "us" else epoch_us // 1000


Cursor = UnixSecondsCursor | IsoCursor
Columns = Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class SampleStream:
    name: str
    primary_key: str
    cursor_field: str
    cursor: Cursor
    fields: tuple[Field, ...]
    # Cursor ticks of the records `dice.index` (strictly increasing in the index).
    timeline: Callable[[Dice], np.ndarray]
    # The varying columns of the records `dice.index`, given their cursor ticks.
    columns: Callable[[Dice, np.ndarray], Columns]
    namespace: str | None = None
    # Records of this stream for `records` records per stream (child streams scale it).
    count: Callable[[int], int] = field(default=lambda records: records)
    size_note: str = "records"

    def catalog_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "json_schema": properties_schema(self.fields),
            "supported_sync_modes": ["full_refresh", "incremental"],
            "source_defined_cursor": True,
            "default_cursor_field": [self.cursor_field],
            "source_defined_primary_key": [[self.primary_key]],
            "is_resumable": True,
        }
        if self.namespace:
            entry["namespace"] = self.namespace
        return entry

    @cached_property
    def _template(self) -> tuple[str, list[str]]:
        data, columns = object_template(self.fields)
        namespace = f'"namespace":{orjson.dumps(self.namespace).decode()},' if self.namespace else ""
        line = (
            f'{{"type":"RECORD","record":{{{namespace}"stream":{orjson.dumps(self.name).decode()},'
            f'"data":{data},"emitted_at":{EMITTED_AT_MS}}}}}\n'
        )
        return line, columns

    def render(self, seed: int, start: int, stop: int) -> tuple[list[str], np.ndarray]:
        """The RECORD lines of records [start, stop) and their cursor ticks."""
        dice = Dice(seed, np.arange(start, stop, dtype=np.int64))
        ticks = self.timeline(dice)
        columns = dict(self.columns(dice, ticks))
        columns[self.cursor_field] = self.cursor.to_json(ticks)
        template, names = self._template
        lines = list(map(template.__mod__, zip(*(columns[name] for name in names), strict=True)))
        return lines, ticks

    def first_after(self, seed: int, ticks: int, total: int) -> int:
        """The index of the first record whose cursor is strictly greater than `ticks` (`total` if none)."""
        low, high = 0, total
        while low < high:  # bisection: the timeline is strictly increasing
            middle = (low + high) // 2
            if self.timeline(Dice(seed, np.array([middle], dtype=np.int64)))[0] > ticks:
                high = middle
            else:
                low = middle + 1
        return low

    def cursor_value(self, seed: int, index: int) -> Any:
        """The JSON cursor value of record `index` (for STATE messages)."""
        ticks = self.timeline(Dice(seed, np.array([index], dtype=np.int64)))
        return self.cursor.to_json(ticks)[0]


@dataclass(frozen=True)
class Shape:
    """A sample source: the streams of one real connector."""

    name: str
    title: str
    streams: tuple[SampleStream, ...]

    def stream(self, name: str) -> SampleStream | None:
        return next((s for s in self.streams if s.name == name), None)
