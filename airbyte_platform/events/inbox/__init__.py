"""The durable webhook inbox: every accepted event is committed here before the receiver answers 2xx.

One backend, PostgreSQL (`postgres.py`): in prod the receiver pods and the Dagster sensors share it;
locally, without WEBHOOK_INBOX_DSN, a pgserver PostgreSQL under the platform home started on first
use (`events.local_inbox`, the local wiring; this package never imports pgserver).

Why one, measured (bench/inbox_backends.py, 2026-12-05, 2 cores, both with group commit; 2,000
signed Stripe events over 16 connections, median of 5 rounds; sensor drain of a 10,000-event
backlog): intake SQLite 5,822 accepted/s (p99 7.0 ms), PostgreSQL from pgserver 2,859/s (p99
8.4 ms); drain SQLite 0.64 s, PostgreSQL 0.72 s (21 evaluations of 500 events). PostgreSQL meets
the receiver's absolute targets (>= 1,000 accepted/s, p99 < 50 ms) and drains that backlog in 2.4%
of one 30-s sensor interval. SQLite's only measured advantage was intake headroom no local workload
uses, against a second implementation of every guarantee (ordering, file identity, disk-full and
lock handling) that prod never ran: it was removed. The group-commit writer stays (2.98x on both).
bench/webhooks.py after the removal, on a quiet machine (2026-12-05): 3,728 accepted/s, p99 13.1 ms
(SQLite's last run, 2026-11-23: 3,556/s, p99 18.9 ms). Its ratio to a bare Starlette endpoint is 0.133,
under the benchmark's 1/3 target, because the bare endpoint now measures 27,957/s (9,686/s on
2026-11-23 with the same script): the baseline moved, not the receiver. A micro-benchmark of the write
path alone (32-event batches, 4.5 ms each, about 7,000 events/s) shows the database round trips are not
the limit.
"""

from __future__ import annotations

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

POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def open_inbox(dsn: str) -> Inbox:
    check_inbox_dsn(dsn, "WEBHOOK_INBOX_DSN")
    from airbyte_platform.events.inbox.postgres import PostgresInbox

    return PostgresInbox(dsn)


def check_inbox_dsn(dsn: str, source: str) -> None:
    """Refuse anything but a PostgreSQL DSN, naming where it came from (a variable, `--inbox`)."""
    if not dsn.startswith(POSTGRES_PREFIXES):
        scheme = dsn.partition(":")[0] if ":" in dsn else "(none)"
        raise InboxError(
            f"{source} has scheme {scheme!r}: the webhook inbox is PostgreSQL only, set "
            "postgresql://user:password@host/database (locally, leave WEBHOOK_INBOX_DSN unset to use "
            "the local PostgreSQL under AIRBYTE_PLATFORM_HOME)"
        )


def inbox_dsn_variable(settings: Settings) -> str | None:
    """The environment variable that holds the inbox DSN, or None for the local default.

    WEBHOOK_INBOX_DSN when set. In prod without it, ANALYTICS_POSTGRES_DSN (required in prod): the
    receiver and the sensors run in different pods there, so they need one shared database. A
    dedicated database is still better (see `postgres.py`: a long write transaction in the same
    cluster delays the sensors' reads).
    """
    webhooks = settings.webhooks
    if webhooks is None:
        raise InboxError("settings.webhooks is not configured")
    if webhooks.inbox_dsn_var:
        return webhooks.inbox_dsn_var
    if not settings.is_local:
        return settings.postgres_dsn_var
    return None


def configured_inbox_dsn(settings: Settings) -> str | None:
    """The configured inbox DSN, read through dg.EnvVar (it carries a password in prod).

    None only in local mode without WEBHOOK_INBOX_DSN: the local wiring then supplies the local
    PostgreSQL (`events.inbox_dsn.inbox_dsn_for`). In prod: a PostgreSQL DSN, or InboxError saying
    which variable to fix.
    """
    variable = inbox_dsn_variable(settings)
    value = dg.EnvVar(variable).get_value() if variable else None
    if not value:
        if not settings.is_local:
            raise InboxError(
                f"{variable or 'WEBHOOK_INBOX_DSN'} is empty: prod mode needs a PostgreSQL webhook inbox "
                "(WEBHOOK_INBOX_DSN=postgresql://...)"
            )
        return None
    check_inbox_dsn(value, variable or "WEBHOOK_INBOX_DSN")
    return value


__all__ = [
    "Inbox",
    "InboxError",
    "IntakeKey",
    "NewEvent",
    "Source",
    "StoredEvent",
    "WriteOutcome",
    "check_inbox_dsn",
    "configured_inbox_dsn",
    "inbox_dsn_variable",
    "open_inbox",
]
