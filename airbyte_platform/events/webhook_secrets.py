"""The receiver's three secrets, read through `dg.EnvVar` from the variable names in the settings.

Locally, an unset variable falls back to a clearly fake development value (below) so `make dev`
works with no setup; send test events signed with these. In prod the settings refuse to start
without the variables, so the fallbacks can never be used there.

`STRIPE_WEBHOOK_SECRET` may hold several secrets separated by commas (`whsec_new,whsec_old`) while
an endpoint secret is rolled on our side; Stripe's own roll is covered by its several `v1` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from airbyte_platform.settings import Settings

LOCAL_DEV_STRIPE_SECRET = "whsec_local_dev_only_not_a_real_secret"
LOCAL_DEV_AIRBYTE_TOKEN = "local-dev-airbyte-token"
LOCAL_DEV_TRIGGER_TOKEN = "local-dev-trigger-token"


class WebhookSecretError(ValueError):
    pass


@dataclass(frozen=True)
class WebhookSecrets:
    # repr=False: these objects end up in tracebacks and logs.
    stripe_secrets: tuple[str, ...] = field(repr=False)
    airbyte_token: str = field(repr=False)
    trigger_token: str = field(repr=False)


def _read(variable: str | None, local_default: str, settings: Settings) -> str:
    if variable is not None:
        value = (dg.EnvVar(variable).get_value() or "").strip()
        if value:
            return value
        if not settings.is_local:
            raise WebhookSecretError(f"{variable} is empty: set it to the webhook secret")
    if not settings.is_local:
        raise WebhookSecretError("a webhook secret variable is missing from the prod settings")
    return local_default


def resolve_webhook_secrets(settings: Settings) -> WebhookSecrets:
    webhooks = settings.webhooks
    if webhooks is None:
        raise WebhookSecretError("settings.webhooks is not configured")
    stripe = _read(webhooks.stripe_secret_var, LOCAL_DEV_STRIPE_SECRET, settings)
    return WebhookSecrets(
        stripe_secrets=tuple(part.strip() for part in stripe.split(",") if part.strip()),
        airbyte_token=_read(webhooks.airbyte_token_var, LOCAL_DEV_AIRBYTE_TOKEN, settings),
        trigger_token=_read(webhooks.trigger_token_var, LOCAL_DEV_TRIGGER_TOKEN, settings),
    )
