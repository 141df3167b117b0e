"""Airbyte protocol messages other than RECORD (those are rendered by the streams), as JSON lines.

Built as plain dicts and serialized with orjson: the sample sources run in the platform's
environment, which does not carry the protocol models (the tests validate the output with them).
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from airbyte_platform.ingestion.sample_sources.streams import EMITTED_AT_MS, SampleStream

FailureType = Literal["config_error", "system_error"]


def line(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message) + b"\n"


def descriptor(stream: SampleStream) -> dict[str, Any]:
    described: dict[str, Any] = {"name": stream.name}
    if stream.namespace:
        described["namespace"] = stream.namespace
    return described


def spec(connection_specification: dict[str, Any], documentation_url: str) -> bytes:
    return line(
        {
            "type": "SPEC",
            "spec": {
                "documentationUrl": documentation_url,
                "connectionSpecification": connection_specification,
                "supportsIncremental": True,
                "supported_destination_sync_modes": ["overwrite", "append", "append_dedup"],
            },
        }
    )


def connection_status(problems: list[str]) -> bytes:
    if problems:
        status = {"status": "FAILED", "message": "invalid config: " + "; ".join(problems)}
    else:
        status = {"status": "SUCCEEDED"}
    return line({"type": "CONNECTION_STATUS", "connectionStatus": status})


def catalog(streams: tuple[SampleStream, ...]) -> bytes:
    return line({"type": "CATALOG", "catalog": {"streams": [s.catalog_entry() for s in streams]}})


def log(message: str, level: str = "INFO") -> bytes:
    return line({"type": "LOG", "log": {"level": level, "message": message}})


def stream_status(stream: SampleStream, status: Literal["STARTED", "RUNNING", "COMPLETE"]) -> bytes:
    return line(
        {
            "type": "TRACE",
            "trace": {
                "type": "STREAM_STATUS",
                "emitted_at": float(EMITTED_AT_MS),
                "stream_status": {"stream_descriptor": descriptor(stream), "status": status},
            },
        }
    )


def error(
    message: str,
    *,
    failure_type: FailureType = "config_error",
    stream: SampleStream | None = None,
    internal_message: str | None = None,
) -> bytes:
    details: dict[str, Any] = {"message": message, "failure_type": failure_type}
    if internal_message:
        details["internal_message"] = internal_message
    if stream is not None:
        details["stream_descriptor"] = descriptor(stream)
    return line(
        {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": float(EMITTED_AT_MS), "error": details}}
    )


def state(stream: SampleStream, cursor_value: Any, records_since_last: int) -> bytes:
    """A per-stream STATE: `{"<cursor field>": value}`, with the records it covers since the last one."""
    return line(
        {
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": descriptor(stream),
                    "stream_state": {stream.cursor_field: cursor_value},
                },
                "sourceStats": {"recordCount": float(records_since_last)},
            },
        }
    )
