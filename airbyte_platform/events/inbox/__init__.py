"""The durable webhook inbox: every accepted event is committed here before the receiver answers 2xx.

`open_inbox(dsn)` picks the backend from the DSN: `sqlite:///relative/path` or
`sqlite:////absolute/path` (SQLAlchemy's convention) locally, `postgresql://...` in prod.

Two backends, measured (bench/inbox_backends.py, 2026-12-05, 2 cores, both with group commit; 2,000
signed Stripe events over 16 connections, median of 5 rounds; sensor drain of a 10,000-event
backlog): intake SQLite 5,822 accepted/s (p99 7.0 ms), PostgreSQL from pgserver 2,859/s (p99
8.4 ms); drain SQLite 0.64 s, PostgreSQL 0.72 s (21 evaluations of 500 events). PostgreSQL meets
every target the receiver has (>= 1,000 accepted/s, p99 < 50 ms) and drains that backlog in 2.4% of one
30-s sensor interval, and `make dev` already keeps the inbox there (`local_services.instance`).
SQLite's only measured advantage is intake headroom no local workload uses, so the decision is one
backend, PostgreSQL. Not done yet: SQLite is still the local default when WEBHOOK_INBOX_DSN is unset
(plain `dagster dev`, most events tests, the REST topology, bench/webhooks.py); removing it needs a
lazily started pgserver inbox for that case (as `LocalCdcSourceResource` starts the CDC source),
those tests moved to the PostgreSQL fixture, and the webhooks bench re-baselined on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from airbyte_platform.events.inbox.model import (
    Inbox,
    InboxError,
    IntakeKey,
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


def inbox_dsn_variable(settings: Settings) -> str | None:
    """The environment variable that holds the inbox DSN, or None for the local SQLite file.

    WEBHOOK_INBOX_DSN when set. In prod without it, ANALYTICS_POSTGRES_DSN (required in prod): the
    receiver and the sensors run in different pods there, so the inbox has to be a shared
    PostgreSQL, never a file on one pod's disk. A dedicated database is still better (see
    `postgres.py`: a long write transaction in the same cluster delays the sensors' reads).
    """
    webhooks = settings.webhooks
    if webhooks is None:
        raise InboxError("settings.webhooks is not configured")
    if webhooks.inbox_dsn_var:
        return webhooks.inbox_dsn_var
    if not settings.is_local:
        return settings.postgres_dsn_var
    return None


def inbox_dsn_for(settings: Settings) -> str:
    """The inbox DSN of these settings, read through dg.EnvVar (it carries a password in prod).

    Locally: WEBHOOK_INBOX_DSN or the SQLite file under the platform home. In prod: a PostgreSQL
    DSN, or InboxError saying which variable to fix.
    """
    webhooks = settings.webhooks
    assert webhooks is not None
    variable = inbox_dsn_variable(settings)
    value = dg.EnvVar(variable).get_value() if variable else None
    if not value:
        if not settings.is_local:
            raise InboxError(
                f"{variable or 'WEBHOOK_INBOX_DSN'} is empty: prod mode needs a PostgreSQL webhook inbox "
                "(WEBHOOK_INBOX_DSN=postgresql://...)"
            )
        return webhooks.inbox_dsn
    check_inbox_dsn_for_mode(value, settings, variable or "WEBHOOK_INBOX_DSN")
    return value


def check_inbox_dsn_for_mode(dsn: str, settings: Settings, source: str) -> None:
    """Refuse a SQLite inbox in prod: the sensors (another pod) would never see its events."""
    if not settings.is_local and not dsn.startswith(POSTGRES_PREFIXES):
        raise InboxError(
            f"{source} is not a PostgreSQL DSN: in prod the receiver and the Dagster sensors share the "
            "webhook inbox, so it must be postgresql://..."
        )


__all__ = [
    "Inbox",
    "InboxError",
    "IntakeKey",
    "NewEvent",
    "Source",
    "StoredEvent",
    "WriteOutcome",
    "check_inbox_dsn_for_mode",
    "inbox_dsn_for",
    "inbox_dsn_variable",
    "open_inbox",
]
