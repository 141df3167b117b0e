"""Airbyte sync notifications (workspace settings → Notifications → Webhook).

Airbyte posts, for successful and failed syncs:
`{"data": {"workspace": {...}, "connection": {"id", "name", "url"}, "source": {...},
"destination": {...}, "jobId": 9988, "startedAt", "finishedAt", "bytesEmitted", "bytesCommitted",
"recordsEmitted", "recordsCommitted", "success": true, "durationInSeconds", "errorMessage"?}}`.
Its "Test" button posts only `{"text": "Hello World! ..."}`.

The payload is not signed, so nothing here is trusted: the sensor confirms the job through the
Airbyte API before acting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class NotificationError(ValueError):
    """Not an Airbyte sync notification; the message lists the missing fields."""


@dataclass(frozen=True)
class AirbyteNotification:
    job_id: int
    connection_id: str
    connection_name: str | None
    success: bool
    records_committed: int | None
    bytes_committed: int | None
    error_message: str | None
    finished_at: str | None

    @property
    def event_id(self) -> str:
        # An Airbyte job ends once: its id is the notification's identity (a redelivery is a duplicate).
        return f"airbyte-job-{self.job_id}"

    @property
    def kind(self) -> str:
        return "sync.succeeded" if self.success else "sync.failed"


def is_test_notification(body: Any) -> bool:
    """The UI's "Test" button: a Slack-style text message and no sync data."""
    return isinstance(body, dict) and "data" not in body and isinstance(body.get("text"), str)


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_airbyte_notification(body: Any) -> AirbyteNotification:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise NotificationError('not an Airbyte sync notification: expected a JSON object with "data"')
    connection = data.get("connection")
    job_id = data.get("jobId")
    success = data.get("success")
    problems = []
    if not isinstance(job_id, int) or isinstance(job_id, bool):
        problems.append("data.jobId (integer)")
    if not isinstance(connection, dict) or not isinstance(connection.get("id"), str):
        problems.append("data.connection.id (string)")
    if not isinstance(success, bool):
        problems.append("data.success (boolean)")
    if problems:
        raise NotificationError(f"Airbyte notification is missing {', '.join(problems)}")
    assert isinstance(connection, dict) and isinstance(job_id, int) and isinstance(success, bool)
    name = connection.get("name")
    error = data.get("errorMessage")
    finished = data.get("finishedAt")
    return AirbyteNotification(
        job_id=job_id,
        connection_id=connection["id"],
        connection_name=name if isinstance(name, str) else None,
        success=success,
        records_committed=_optional_int(data.get("recordsCommitted")),
        bytes_committed=_optional_int(data.get("bytesCommitted")),
        error_message=error if isinstance(error, str) else None,
        finished_at=finished if isinstance(finished, str) else None,
    )
