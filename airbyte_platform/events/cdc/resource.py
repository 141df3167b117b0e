"""The CDC source database as a Dagster resource (CDC_SOURCE_DSN; locally `LocalCdcSourceResource`,
events/cdc/local_source.py, starts a stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import psycopg
from pydantic import Field

from airbyte_platform.events.cdc.heartbeat import write_heartbeat
from airbyte_platform.events.cdc.slot import SlotReading, read_slot
from airbyte_platform.events.redact import redact_dsn


class CdcSourceUnreachable(RuntimeError):
    """The source database did not answer; the message never contains the DSN (it holds a password)."""


class CdcSourceResource(dg.ConfigurableResource):
    """Reads the replication slot of the application PostgreSQL that Airbyte replicates by CDC."""

    dsn: str | None = Field(
        default=None, description="Source PostgreSQL DSN (secret, via EnvVar CDC_SOURCE_DSN)."
    )
    slot_name: str = Field(
        default="airbyte_slot", description="The logical replication slot (CDC_SLOT_NAME)."
    )
    max_lag_seconds: int = Field(
        default=300, description="check_replication_lag limit (CDC_MAX_LAG_SECONDS)."
    )
    max_lag_bytes: int = Field(
        default=256 * 1024 * 1024, description="WAL backlog limit (CDC_MAX_LAG_BYTES)."
    )
    connect_timeout_seconds: int = Field(default=5, description="An unreachable source fails this fast.")
    write_heartbeat: bool = Field(
        default=False,
        description="Write a heartbeat row before each reading (CDC_WRITE_HEARTBEAT; off in prod).",
    )

    def uri(self) -> str:
        if not self.dsn:
            raise CdcSourceUnreachable("no CDC source configured: set CDC_SOURCE_DSN")
        return self.dsn

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            uri = self.uri()
        except CdcSourceUnreachable:
            raise
        except Exception as exc:  # the local stand-in failed to start (pgserver, disk)
            raise CdcSourceUnreachable(f"the local CDC source did not start: {exc}") from exc
        try:
            connection = psycopg.connect(uri, autocommit=True, connect_timeout=self.connect_timeout_seconds)
        except psycopg.Error as exc:
            # `from None`: the driver's own message may quote the DSN; only the redacted text travels.
            raise CdcSourceUnreachable(redact_dsn(str(exc).strip(), uri)) from None
        try:
            with connection:
                yield connection
        except psycopg.OperationalError as exc:  # the connection dropped mid-reading
            raise CdcSourceUnreachable(redact_dsn(str(exc).strip(), uri)) from None

    def read_slot(self) -> SlotReading:
        with self.connect() as connection:
            return read_slot(connection, self.slot_name)

    def heartbeat_and_read(self) -> tuple[str, SlotReading]:
        """Write a heartbeat (when opted in and the table exists), then read the slot: what the lag
        sensor does per tick.

        Returns a note on the heartbeat ("written", "not written: CDC_WRITE_HEARTBEAT is off", "no
        heartbeat table", or why it could not be written, e.g. a read-only monitoring role) and the reading.
        """
        with self.connect() as connection:
            if not self.write_heartbeat:
                return "not written: CDC_WRITE_HEARTBEAT is off", read_slot(connection, self.slot_name)
            try:
                note = "written" if write_heartbeat(connection) else "no heartbeat table"
            except psycopg.OperationalError:
                raise
            except psycopg.Error as exc:
                note = f"not written: {str(exc).strip()}"
            return note, read_slot(connection, self.slot_name)
