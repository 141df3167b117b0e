"""The durable webhook inbox: every accepted event is committed here before the receiver answers 2xx.

`open_inbox(dsn)` picks the backend from the DSN: `sqlite:///relative/path` or
`sqlite:////absolute/path` (SQLAlchemy's convention) locally, `postgresql://...` in prod.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from airbyte_platform.events.inbox.model import (
    Inbox,
    InboxError,
    NewEvent,
    Source,
    StoredEvent,
    WriteOutcome,
)
from airbyte_platform.settings import Settings

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def open_inbox(dsn: str) -> Inbox:
    if dsn.startswith(SQLITE_PREFIX):
        from airbyte_platform.events.inbox.sqlite import SqliteInbox

        return SqliteInbox(Path(dsn[len(SQLITE_PREFIX) :]))
    if dsn.startswith(POSTGRES_PREFIXES):
        from airbyte_platform.events.inbox.postgres import PostgresInbox

        return PostgresInbox(dsn)
    scheme = dsn.partition(":")[0] or "(none)"
    raise InboxError(
        f"WEBHOOK_INBOX_DSN has scheme {scheme!r}: use sqlite:////absolute/path.sqlite3 or postgresql://..."
    )


def inbox_dsn_for(settings: Settings) -> str:
    """The inbox DSN of these settings: WEBHOOK_INBOX_DSN (read through dg.EnvVar) or the local SQLite file."""
    webhooks = settings.webhooks
    if webhooks is None:
        raise InboxError("settings.webhooks is not configured")
    if webhooks.inbox_dsn_var:
        value = dg.EnvVar(webhooks.inbox_dsn_var).get_value()
        if value:
            return value
    return webhooks.inbox_dsn


__all__ = [
    "Inbox",
    "InboxError",
    "NewEvent",
    "Source",
    "StoredEvent",
    "WriteOutcome",
    "inbox_dsn_for",
    "open_inbox",
]
