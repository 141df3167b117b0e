"""A run report rendered for people (subject and text) and for machines (JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airbyte_platform.operations.notifications.report import RunReport


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: dict[str, Any]


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


def subject_of(report: RunReport) -> str:
    verb = "succeeded" if report.outcome == "success" else "failed"
    if report.connections:
        # The seeds' subject ("Airbyte sync succeeded"), with what was synced.
        return f"Airbyte sync {verb}: {', '.join(report.connections)} (job {report.job_name})"
    return f"Dagster run {verb}: {report.job_name}"


def render(report: RunReport) -> Message:
    verb = "succeeded" if report.outcome == "success" else "failed"
    duration = f" in {report.duration_seconds:.1f} s" if report.duration_seconds is not None else ""
    lines = [f"Run {report.run_id} of job {report.job_name} {verb}{duration}."]
    if report.connections:
        lines.append(f"Connections: {', '.join(report.connections)}")
    for job_id, url in report.airbyte_jobs:
        lines.append(f"Airbyte job {job_id}" + (f": {url}" if url else ""))
    if report.streams:
        lines.append("Rows synced per stream:")
        for line in report.streams:
            figures = "records not reported" if line.records_synced is None else f"{line.records_synced} rows"
            if line.bytes_synced is not None:
                figures += f", {_size(line.bytes_synced)}"
            lines.append(f"  {line.asset}: {figures}")
    if report.failure_reasons:
        lines.append("Failure reason:")
        lines.extend(f"  {reason}" for reason in report.failure_reasons)
    if report.run_url:
        lines.append(f"Run in Dagster: {report.run_url}")
    payload = {
        "event": f"run_{report.outcome}",
        "run_id": report.run_id,
        "job_name": report.job_name,
        "status": report.outcome,
        "duration_seconds": report.duration_seconds,
        "connections": list(report.connections),
        "airbyte_jobs": [{"job_id": job_id, "url": url} for job_id, url in report.airbyte_jobs],
        "streams": [
            {
                "asset": line.asset,
                "connection": line.connection,
                "stream": line.stream,
                "records_synced": line.records_synced,
                "bytes_synced": line.bytes_synced,
            }
            for line in report.streams
        ],
        "failure_reasons": list(report.failure_reasons),
        "run_url": report.run_url,
        "tags": report.tags,
    }
    return Message(subject=subject_of(report), text="\n".join(lines), payload=payload)
