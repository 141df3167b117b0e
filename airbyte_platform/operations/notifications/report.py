"""What a notification says about a run, read back from the Dagster instance.

Built from the run's own event log (materializations, check evaluations, step failures) and its run
record, never from the memory of the process that ran the steps: the run may have executed in
another pod, and the sensor evaluating it only shares the instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import dagster as dg
from dagster._core.events import DagsterEventType

from airbyte_platform.core.catalog import declared_connections
from airbyte_platform.events.redact import redact_dsn

Outcome = Literal["failure", "success"]
MAX_REASON_CHARS = 2000
# A run has a few hundred events at most; the bound keeps one odd run from stalling the sensor.
MAX_RUN_EVENTS = 20_000
_EVENT_TYPES = {
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.STEP_FAILURE,
}


@dataclass(frozen=True)
class StreamLine:
    asset: str
    connection: str | None
    stream: str | None
    records_synced: int | None
    bytes_synced: int | None
    airbyte_job_id: str | None
    airbyte_job_url: str | None


@dataclass(frozen=True)
class RunReport:
    run_id: str
    job_name: str
    outcome: Outcome
    duration_seconds: float | None
    connections: tuple[str, ...]
    streams: tuple[StreamLine, ...]
    failure_reasons: tuple[str, ...] = ()
    run_url: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def airbyte_jobs(self) -> list[tuple[str, str | None]]:
        """(job id, link) of every Airbyte job (or embedded sync id) of the run, once each."""
        seen: dict[str, str | None] = {}
        for line in self.streams:
            if line.airbyte_job_id and line.airbyte_job_id not in seen:
                seen[line.airbyte_job_id] = line.airbyte_job_url
        return list(seen.items())


def _stream_index() -> dict[dg.AssetKey, tuple[str, str]]:
    return {
        connection.asset_key(stream): (connection.name, stream.name)
        for connection in declared_connections()
        for stream in connection.streams
    }


def _value(metadata: dict[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    return None if entry is None else getattr(entry, "value", entry)


def _as_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def build_run_report(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    outcome: Outcome,
    run_failure_message: str | None = None,
    dagster_ui_url: str | None = None,
    secrets: tuple[str, ...] = (),
) -> RunReport:
    """The report of `run`; `secrets` are masked out of every failure text it carries."""
    index = _stream_index()
    records = instance.get_records_for_run(run.run_id, of_type=_EVENT_TYPES, limit=MAX_RUN_EVENTS).records
    lines: dict[dg.AssetKey, StreamLine] = {}
    planned: set[dg.AssetKey] = set(run.asset_selection or ())
    reasons: list[str] = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned.add(event.event_specific_data.asset_key)  # type: ignore[union-attr]
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            metadata = dict(materialization.metadata)
            connection, stream = index.get(materialization.asset_key, (None, None))
            job_id = _value(metadata, "airbyte/job_id") or _value(metadata, "sync_id")
            url = _value(metadata, "airbyte/job_url")
            lines[materialization.asset_key] = StreamLine(
                asset=materialization.asset_key.to_user_string(),
                connection=connection or _value(metadata, "airbyte/connection_id"),
                stream=stream,
                records_synced=_as_int(_value(metadata, "records_synced")),
                bytes_synced=_as_int(_value(metadata, "bytes_synced")),
                airbyte_job_id=None if job_id is None else str(job_id),
                airbyte_job_url=None if url is None else str(url),
            )
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:  # type: ignore[union-attr]
                reasons.append(
                    f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"  # type: ignore[union-attr]
                    + (f": {evaluation.description}" if evaluation.description else "")  # type: ignore[union-attr]
                )
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            message = _root_cause(event.step_failure_data.error)
            reasons.append(f"step {event.step_key} failed: {message}")
    if outcome == "failure" and run_failure_message:
        reasons.append(run_failure_message)

    connections = {line.connection for line in lines.values() if line.connection and line.stream}
    connections |= {index[key][0] for key in planned if key in index}
    if run.tags.get("airbyte/connection"):
        connections.add(run.tags["airbyte/connection"])
    record = instance.get_run_record_by_id(run.run_id)
    duration = None
    if record is not None and record.start_time is not None and record.end_time is not None:
        duration = round(record.end_time - record.start_time, 1)
    return RunReport(
        run_id=run.run_id,
        job_name=run.job_name,
        outcome=outcome,
        duration_seconds=duration,
        connections=tuple(sorted(connections)),
        streams=tuple(sorted(lines.values(), key=lambda line: line.asset)),
        failure_reasons=tuple(mask(reason, secrets)[:MAX_REASON_CHARS] for reason in reasons),
        run_url=f"{dagster_ui_url.rstrip('/')}/runs/{run.run_id}" if dagster_ui_url else None,
        tags={k: v for k, v in run.tags.items() if k.startswith(("airbyte/", "airflow/"))},
    )


def _root_cause(error: Any) -> str:
    """The message of the exception the step's code raised, under Dagster's own wrapper.

    Not the innermost cause: the code's exception is the one that says what failed (which
    connection, which stream, the connector's last words); what caused it is a detail
    ("the connector exited with code 1"). Only when every error is Dagster's is the innermost used.
    """
    if error is None:
        return "no error recorded"
    chain = []
    while error is not None:
        chain.append(error)
        error = getattr(error, "cause", None)
    raised = [e for e in chain if not (getattr(e, "cls_name", None) or "").startswith("Dagster")]
    return (raised[0] if raised else chain[-1]).message.strip()


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """`text` without any secret value (longest first) or DSN password."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_dsn(text)
