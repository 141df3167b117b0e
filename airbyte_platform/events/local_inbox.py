"""Local mode without WEBHOOK_INBOX_DSN: the webhook inbox in the local PostgreSQL under the home.

The same pgserver cluster and database `make dev` gives its processes (`local_services.instance`):
`<AIRBYTE_PLATFORM_HOME>/postgres`, database `webhooks`. pgserver shares one server per data
directory between processes, so a receiver (`python -m airbyte_platform.events.receiver`), the
code server's sensors and the metrics exporter started on their own all reach the same inbox.
Started on first use, never at definitions load. Local-only (pgserver): the production paths
reach it only through the function-level imports in `events.inbox_dsn` and `events.resources`.
"""

from __future__ import annotations

from pathlib import Path

import filelock
from pydantic import Field

from airbyte_platform.events.inbox import Inbox, open_inbox
from airbyte_platform.events.resources import WebhookInboxResource
from airbyte_platform.local_services.postgres import local_postgres_uri

POSTGRES_DIR = "postgres"  # under the home: the cluster that also holds the analytics database
INBOX_DATABASE = "webhooks"


def local_inbox_dsn(home: Path) -> str:
    """Start (or attach to) the local PostgreSQL under `home` and return the inbox database's URI.

    Safe from several processes at once: creating the database is serialised by a file lock
    (two processes both finding it missing would both CREATE it, and one would fail).
    """
    pgdata = (home / POSTGRES_DIR).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(pgdata.parent / f".{pgdata.name}.{INBOX_DATABASE}.lock"), timeout=120):
        return local_postgres_uri(pgdata, INBOX_DATABASE)


class LocalWebhookInboxResource(WebhookInboxResource):
    """The sensors' inbox in local mode without a DSN: the local PostgreSQL, started on first read."""

    dsn: str = Field(default="", description="Unset: the local PostgreSQL under local_home.")
    local_home: str = Field(description="AIRBYTE_PLATFORM_HOME: its postgres folder holds the inbox.")

    def open(self) -> Inbox:
        return open_inbox(self.dsn or local_inbox_dsn(Path(self.local_home)))
