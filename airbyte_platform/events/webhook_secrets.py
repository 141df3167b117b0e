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


@dataclass(frozen=True)
class _Secret:
    canonical: str  # the variable's name as the settings document it
    purpose: str
    local_default: str


STRIPE = _Secret("STRIPE_WEBHOOK_SECRET", "verifies Stripe-Signature", LOCAL_DEV_STRIPE_SECRET)
AIRBYTE = _Secret("AIRBYTE_WEBHOOK_TOKEN", "the path token of Airbyte notifications", LOCAL_DEV_AIRBYTE_TOKEN)
TRIGGER = _Secret(
    "WEBHOOK_TRIGGER_TOKEN", "the bearer token of POST /webhooks/trigger", LOCAL_DEV_TRIGGER_TOKEN
)


def _read(variable: str | None, secret: _Secret, settings: Settings, missing: list[str]) -> str:
    """The secret's value; locally its development value when unset; in prod, unset or empty is noted
    in `missing` (all of them are reported at once)."""
    if variable is not None:
        value = (dg.EnvVar(variable).get_value() or "").strip()
        if value:
            return value
    if settings.is_local:
        return secret.local_default
    state = "is empty" if variable is not None else "is not set"
    missing.append(f"{variable or secret.canonical} {state} ({secret.purpose})")
    return ""


def resolve_webhook_secrets(settings: Settings) -> WebhookSecrets:
    webhooks = settings.webhooks
    if webhooks is None:
        raise WebhookSecretError("settings.webhooks is not configured")
    missing: list[str] = []
    stripe = _read(webhooks.stripe_secret_var, STRIPE, settings, missing)
    airbyte = _read(webhooks.airbyte_token_var, AIRBYTE, settings, missing)
    trigger = _read(webhooks.trigger_token_var, TRIGGER, settings, missing)
    if missing:
        raise WebhookSecretError(
            "the webhook receiver needs its three secrets in prod: "
            + "; ".join(missing)
            + " (Kubernetes: the Secret airbyte-platform-secrets, written by its ExternalSecret)"
        )
    return WebhookSecrets(
        stripe_secrets=tuple(part.strip() for part in stripe.split(",") if part.strip()),
        airbyte_token=airbyte,
        trigger_token=trigger,
    )


def local_development_values(settings: Settings) -> dict[str, str]:
    """The secrets that are their development values (local mode, variable unset), by variable: what
    `make dev` prints so test events can be sent without reading the source."""
    webhooks = settings.webhooks
    if not settings.is_local or webhooks is None:
        return {}
    found = {}
    for variable, secret in (
        (webhooks.stripe_secret_var, STRIPE),
        (webhooks.airbyte_token_var, AIRBYTE),
        (webhooks.trigger_token_var, TRIGGER),
    ):
        if _read(variable, secret, settings, []) == secret.local_default:
            found[secret.canonical] = secret.local_default
    return found
