"""What a finished Airbyte sync reports to Dagster: one materialization per stream, and its check.

Metadata names match the embedded runner's (local mode) where the meaning is the same
(`sync_id`, `records_synced`, `bytes_synced`, `duration_seconds`, `lake_path` /
`dagster/table_name`), so the UI plots one series whichever mode produced it. Airbyte-specific
facts are namespaced `airbyte/` (job id, link, totals, whether we attached to a running job).

Row counts: the public API reports job totals only; per-stream counts come from the config API
when it answers. `dagster/row_count` (rows in the table) is set only when it is known to equal what
was synced: a stream in a full-refresh *overwrite* mode with a per-stream count. The min-records
check (the seeds' `validate_sync_results`, which counted synced records) uses the per-stream count;
without one, the job total is an upper bound of every stream: below the minimum it fails, above
it the check passes and says the count was the job's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import dagster as dg

from airbyte_platform.core.min_records import min_records_result
from airbyte_platform.ingestion.airbyte_server.jobs import FinishedJob
from airbyte_platform.ingestion.airbyte_server.polling import parse_iso_duration
from airbyte_platform.ingestion.sync_assets import SyncEvent
from airbyte_platform.ingestion.sync_target import StreamTarget, SyncTarget

OVERWRITE_MODES = frozenset({"full_refresh_overwrite", "full_refresh_overwrite_deduped"})
# (namespace, stream name) -> (records, bytes): one name may exist in several namespaces.
StreamStats = Mapping[tuple[str | None, str], tuple[int | None, int | None]]


@dataclass(frozen=True)
class SyncReport:
    target: SyncTarget
    finished: FinishedJob
    job_url: str
    stream_stats: StreamStats | None  # None: the server reported no per-stream figures

    @property
    def job_rows(self) -> int | None:
        return self.finished.job.get("rowsSynced")

    @property
    def job_bytes(self) -> int | None:
        return self.finished.job.get("bytesSynced")

    def stream_figures(self, stream: StreamTarget) -> tuple[int | None, int | None]:
        """The stream's own (records, bytes): matched on namespace and name.

        A stream known without a namespace (declared streams, servers whose listing has none)
        takes the one entry with its name; when several namespaces have that name the figures are
        unknown (None) rather than another namespace's.
        """
        if self.stream_stats is None:
            return None, None
        exact = self.stream_stats.get((stream.namespace, stream.name))
        if exact is not None:
            return exact
        if stream.namespace is None:
            named = [figures for (_, name), figures in self.stream_stats.items() if name == stream.name]
            if len(named) == 1:
                return named[0]
            if len(named) > 1:
                return None, None
        return 0, 0  # a stream with no stats synced nothing

    def metadata(self, stream: StreamTarget) -> dict[str, dg.RawMetadataValue]:
        job = self.finished.job
        records, size = self.stream_figures(stream)
        metadata: dict[str, dg.RawMetadataValue] = {
            "sync_id": self.finished.job_id,
            "airbyte/job_id": self.finished.job_id,
            "airbyte/job_url": dg.MetadataValue.url(self.job_url),
            "airbyte/connection_id": self.target.connection_id,
            "airbyte/attached_to_running_job": self.finished.attached,
            "airbyte/polls": self.finished.polls,
        }
        duration = parse_iso_duration(job.get("duration"))
        if duration is not None:
            metadata["duration_seconds"] = duration
        if self.job_rows is not None:
            metadata["airbyte/job_rows_synced"] = self.job_rows
        if self.job_bytes is not None:
            metadata["airbyte/job_bytes_synced"] = self.job_bytes
        if records is not None:
            metadata["records_synced"] = records
            if stream.sync_mode in OVERWRITE_MODES:
                metadata["dagster/row_count"] = records
        if size is not None:
            metadata["bytes_synced"] = size
        if stream.location is not None and self.target.declared is not None:
            location_key = "lake_path" if self.target.declared.destination == "lake" else "dagster/table_name"
            metadata[location_key] = stream.location
        return metadata

    def min_records_check(self, stream: StreamTarget) -> dg.AssetCheckResult | None:
        connection, declared = self.target.declared, stream.declared
        if connection is None or declared is None:
            return None
        records, _ = self.stream_figures(stream)
        if records is not None:
            return _with_source(min_records_result(connection, declared, records), "stream")
        total = self.job_rows or 0
        result = min_records_result(connection, declared, total)
        if len(self.target.streams) == 1 or not result.passed:
            return _with_source(result, "job total")
        return _with_source(
            result,
            "job total",
            f"Per-stream counts were not reported; the job synced {total} rows in total "
            f"(minimum {declared.min_records} per stream).",
        )


def _with_source(
    result: dg.AssetCheckResult, source: str, description: str | None = None
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        severity=result.severity,
        description=description or result.description,
        metadata={**result.metadata, "row_count_source": source},
    )


def sync_events(
    report: SyncReport,
    selected_keys: set[dg.AssetKey],
    selected_checks: set[dg.AssetCheckKey],
    synced_streams: set[str],
) -> Iterator[SyncEvent]:
    """Materializations and checks of the selected streams; runtime materializations of the others.

    Airbyte syncs whole connections, so streams outside the selection were refreshed too: they are
    recorded as `AssetMaterialization` events rather than hidden.
    """
    for stream in report.target.streams:
        if stream.key in selected_keys:
            yield dg.MaterializeResult(asset_key=stream.key, metadata=report.metadata(stream))
            check = report.min_records_check(stream)
            if check is not None and dg.AssetCheckKey(stream.key, check.check_name) in selected_checks:
                yield check
        elif stream.name in synced_streams:
            yield dg.AssetMaterialization(
                asset_key=stream.key,
                description="Synced with the rest of its Airbyte connection (not selected in this run).",
                metadata=report.metadata(stream),
            )
