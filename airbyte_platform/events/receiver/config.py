"""What the receiver needs, resolved once from the settings (secret values through dg.EnvVar)."""

from __future__ import annotations

from dataclasses import dataclass, field

from airbyte_platform.events.inbox import check_inbox_dsn
from airbyte_platform.events.inbox_dsn import inbox_dsn_for
from airbyte_platform.events.receiver.protocol import HttpLimits
from airbyte_platform.events.stripe_signature import DEFAULT_TOLERANCE_SECONDS
from airbyte_platform.events.webhook_secrets import WebhookSecrets, resolve_webhook_secrets
from airbyte_platform.settings import Settings

# Events older than this, and already read by their sensor, are pruned when the receiver starts.
RETENTION_DAYS = 30
# /health answers 503 when the inbox's write path has not answered within this time (a lock held
# elsewhere, a hung disk): a probe that hangs is no answer for Kubernetes either.
HEALTH_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class ReceiverConfig:
    settings: Settings = field(repr=False)
    secrets: WebhookSecrets
    inbox_dsn: str = field(repr=False)  # may carry a password
    max_body_bytes: int
    stripe_tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
    retention_days: int = RETENTION_DAYS
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    health_timeout_seconds: float = HEALTH_TIMEOUT_SECONDS


def receiver_config(
    settings: Settings, inbox_dsn: str | None = None, http_limits: HttpLimits | None = None
) -> ReceiverConfig:
    """`inbox_dsn`: an explicit DSN (the `--inbox` option), checked like the settings' one. Without
    either, in local mode, the local PostgreSQL under the home is started here (the sensors use it too)."""
    webhooks = settings.webhooks
    assert webhooks is not None, "settings.webhooks is always set by load_settings"
    if inbox_dsn:
        check_inbox_dsn(inbox_dsn, "--inbox")
    return ReceiverConfig(
        settings=settings,
        secrets=resolve_webhook_secrets(settings),
        inbox_dsn=inbox_dsn or inbox_dsn_for(settings),
        max_body_bytes=webhooks.max_body_bytes,
        http_limits=http_limits or HttpLimits(),
    )
