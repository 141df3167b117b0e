"""Airbyte sync notifications (workspace settings → Notifications → Webhook).

Airbyte posts, for successful and failed syncs:
`{"data": {"workspace": {"id", "name", "url"}, "connection": {"id", "name", "url"}, "source": {...},
"destination": {...}, "jobId": 9988, "startedAt", "finishedAt", "bytesEmitted", "bytesCommitted",
"recordsEmitted", "recordsCommitted", "success": true, "durationInSeconds", "errorMessage"?}}`.
Its "Test" button posts only `{"text": "Hello World! ..."}`.

The payload is not signed, so nothing here is trusted: the sensor confirms the job through the
Airbyte API before acting. The fields a decision rests on (job id, connection id, success) are
strict; the informative ones (counts, names, times) become None when Airbyte sends something
unexpected, so a format change there never loses a notification. The whole body is one pydantic
model (`AIRBYTE_WEBHOOK`: the Test message or a sync notification), parsed from the raw bytes in
one pass; its errors become a 422 naming each missing field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
)

from airbyte_platform.events.validation import malformed_json


class NotificationError(ValueError):
    """Not an Airbyte sync notification; the message lists the missing fields.

    `reason`: the receiver's intake counter word (malformed_json: 400, invalid_event: 422)."""

    def __init__(self, message: str, reason: str = "invalid_event"):
        super().__init__(message)
        self.reason = reason


def _or_none(kind: type) -> BeforeValidator:
    def keep(value: Any) -> Any:
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    return BeforeValidator(keep)


OptionalInt = Annotated[int | None, _or_none(int)]
OptionalStr = Annotated[str | None, _or_none(str)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Workspace(_Lenient):
    id: OptionalStr = None


class _Connection(_Lenient):
    id: StrictStr
    name: OptionalStr = None


class _Data(_Lenient):
    jobId: StrictInt  # Airbyte's field names
    connection: _Connection
    success: StrictBool
    workspace: Annotated[_Workspace | None, BeforeValidator(lambda v: v if isinstance(v, dict) else None)] = (
        None
    )
    recordsCommitted: OptionalInt = None
    bytesCommitted: OptionalInt = None
    errorMessage: OptionalStr = None
    finishedAt: OptionalStr = None


class _Body(_Lenient):
    data: _Data


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
    workspace_id: str | None = None

    @property
    def event_id(self) -> str:
        """The notification's identity: what makes two deliveries the same notification.

        A job id is unique within one Airbyte deployment only: the same id in another workspace
        (another deployment posting to this receiver) is another sync. And a job notified
        failed, then succeeded (Airbyte re-notifies after a reset or a manual retry of the same
        job) is two facts. Job id alone dropped both as duplicates.
        """
        status = "succeeded" if self.success else "failed"
        return f"airbyte-job-{self.workspace_id or 'unknown-workspace'}-{self.job_id}-{status}"

    @property
    def kind(self) -> str:
        return "sync.succeeded" if self.success else "sync.failed"


class _TestMessage(_Lenient):
    text: StrictStr


TEST = "test"
SYNC = "sync"


def _kind(body: Any) -> str:
    """The UI's "Test" button posts a Slack-style text message and no sync data; anything else
    must be a sync notification (and is validated, and refused, as one)."""
    if isinstance(body, dict) and "data" not in body and isinstance(body.get("text"), str):
        return TEST
    return SYNC


# What the webhook may post: one model, the kind picked by `_kind` before any field is validated.
AIRBYTE_WEBHOOK: TypeAdapter[_Body | _TestMessage] = TypeAdapter(
    Annotated[
        Annotated[_Body, Tag(SYNC)] | Annotated[_TestMessage, Tag(TEST)],
        Discriminator(_kind),
    ]
)

# What each required field must be, in the words of the 422 message.
_EXPECTED = {
    "data.jobId": "data.jobId (integer)",
    "data.connection": "data.connection.id (string)",
    "data.connection.id": "data.connection.id (string)",
    "data.success": "data.success (boolean)",
}
_NOT_A_NOTIFICATION = 'not an Airbyte sync notification: expected a JSON object with "data"'


def _notification_error(exc: ValidationError) -> NotificationError:
    not_json = malformed_json(exc)
    if not_json:
        return NotificationError(not_json, reason="malformed_json")
    missing: list[str] = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"][1:])  # loc[0] is the kind's tag
        if where in ("", "data") and error["type"] in ("model_type", "model_attributes_type", "missing"):
            return NotificationError(_NOT_A_NOTIFICATION)
        described = _EXPECTED.get(where, where)
        if described not in missing:
            missing.append(described)
    ordered = [text for text in dict.fromkeys(_EXPECTED.values()) if text in missing]
    ordered += [text for text in missing if text not in ordered]
    return NotificationError(f"Airbyte notification is missing {', '.join(ordered)}")


def _notification(data: _Data) -> AirbyteNotification:
    return AirbyteNotification(
        job_id=data.jobId,
        connection_id=data.connection.id,
        connection_name=data.connection.name,
        success=data.success,
        records_committed=data.recordsCommitted,
        bytes_committed=data.bytesCommitted,
        error_message=data.errorMessage,
        finished_at=data.finishedAt,
        workspace_id=data.workspace.id if data.workspace else None,
    )


def parse_airbyte_webhook(body: bytes) -> AirbyteNotification | None:
    """The notification in this raw body (parsed and validated in one pass); None for the UI's Test
    button; NotificationError saying what is missing otherwise."""
    try:
        parsed = AIRBYTE_WEBHOOK.validate_json(body)
    except ValidationError as exc:
        raise _notification_error(exc) from None
    return _notification(parsed.data) if isinstance(parsed, _Body) else None


def is_test_notification(body: Any) -> bool:
    return _kind(body) == TEST


def parse_airbyte_notification(body: Any) -> AirbyteNotification:
    """The stored notification (already parsed JSON): the sensor re-reads what the receiver accepted."""
    if is_test_notification(body):
        raise NotificationError(_NOT_A_NOTIFICATION)
    try:
        parsed = AIRBYTE_WEBHOOK.validate_python(body)
    except ValidationError as exc:
        raise _notification_error(exc) from None
    assert isinstance(parsed, _Body)
    return _notification(parsed.data)
