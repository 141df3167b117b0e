"""The resources of the events area, built from the settings by mode (one place).

- `webhook_inbox`: the inbox the receiver writes (WEBHOOK_INBOX_DSN, in prod falling back to
  ANALYTICS_POSTGRES_DSN, through EnvVar; locally without it, the local PostgreSQL under the home,
  started on the first sensor tick);
- `airbyte_job_api`: confirms Airbyte notifications (unconfigured locally without AIRBYTE_API_URL);
- `cdc_source`: the CDC source database (CDC_SOURCE_DSN through EnvVar, or the local stand-in).
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from airbyte_platform.events.airbyte_jobs import AirbyteJobApiResource, public_api_base
from airbyte_platform.events.cdc.resource import CdcSourceResource
from airbyte_platform.events.inbox import Inbox, inbox_dsn_variable, open_inbox
from airbyte_platform.settings import Settings

LOCAL_CDC_PGDATA = "cdc_source_postgres"  # under settings.home


class WebhookInboxResource(dg.ConfigurableResource):
    """Read access to the webhook inbox for the sensors."""

    dsn: str = Field(description="postgresql://... (a secret in prod, via EnvVar).")

    def open(self) -> Inbox:
        return open_inbox(self.dsn)


def _env(variable: str | None) -> dg.EnvVar | None:
    return dg.EnvVar(variable) if variable else None


def build_events_resources(settings: Settings) -> dict[str, object]:
    airbyte = settings.airbyte
    assert airbyte is not None
    return {
        "webhook_inbox": _webhook_inbox(settings),
        "airbyte_job_api": AirbyteJobApiResource(
            base_url=public_api_base(airbyte.api_url, airbyte.cloud),
            username=_env(airbyte.username_var),
            password=_env(airbyte.password_var),
            client_id=_env(airbyte.client_id_var),
            client_secret=_env(airbyte.client_secret_var),
        ),
        "cdc_source": _cdc_source(settings),
    }


def _webhook_inbox(settings: Settings) -> WebhookInboxResource:
    # WEBHOOK_INBOX_DSN, or ANALYTICS_POSTGRES_DSN in prod: the same inbox the receiver writes.
    inbox_variable = inbox_dsn_variable(settings)
    if inbox_variable:
        return WebhookInboxResource(dsn=dg.EnvVar(inbox_variable))
    # Local mode without a DSN: the local PostgreSQL the receiver also falls back to
    # (`events.inbox_dsn`), started on first use. Imported here only (pgserver, see `_cdc_source`).
    from airbyte_platform.events.local_inbox import LocalWebhookInboxResource

    return LocalWebhookInboxResource(local_home=str(settings.home))


def _cdc_source(settings: Settings) -> CdcSourceResource:
    cdc = settings.cdc
    assert cdc is not None
    limits = {
        "slot_name": cdc.slot_name,
        "max_lag_seconds": cdc.max_lag_seconds,
        "max_lag_bytes": cdc.max_lag_bytes,
        "write_heartbeat": cdc.write_heartbeat,
    }
    if cdc.source_dsn_var:
        return CdcSourceResource(dsn=dg.EnvVar(cdc.source_dsn_var), **limits)
    # No source configured (local mode): a stand-in started on first use. Imported here only, so that
    # the production image, which has no pgserver, never imports it.
    from airbyte_platform.events.cdc.local_source import LocalCdcSourceResource

    return LocalCdcSourceResource(local_pgdata=str(settings.home / LOCAL_CDC_PGDATA), **limits)
