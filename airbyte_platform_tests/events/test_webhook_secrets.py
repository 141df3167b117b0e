"""The receiver's secrets: development values locally; in prod every missing one named at once, with
what it is for, and the receiver refusing to start on it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from airbyte_platform.events.webhook_secrets import (
    LOCAL_DEV_TRIGGER_TOKEN,
    WebhookSecretError,
    resolve_webhook_secrets,
)
from airbyte_platform.settings import load_settings
from airbyte_platform_tests.ports import free_port
from airbyte_platform_tests.test_settings import PROD_PLACEHOLDERS

SECRETS = ("STRIPE_WEBHOOK_SECRET", "AIRBYTE_WEBHOOK_TOKEN", "WEBHOOK_TRIGGER_TOKEN")


def _prod_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in PROD_PLACEHOLDERS.items() if k not in names}


def test_locally_unset_secrets_are_the_documented_development_values(tmp_path, monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    settings = load_settings({"AIRBYTE_PLATFORM_HOME": str(tmp_path)})
    assert resolve_webhook_secrets(settings).trigger_token == LOCAL_DEV_TRIGGER_TOKEN


def test_prod_names_every_missing_secret_at_once(monkeypatch):
    """None of the three set: the settings accept it (the code location needs none; a receiver-less
    deployment is valid), the receiver does not, and says which and what for."""
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(WebhookSecretError) as refused:
        resolve_webhook_secrets(load_settings(_prod_without(*SECRETS)))
    message = str(refused.value)
    assert "STRIPE_WEBHOOK_SECRET is not set (verifies Stripe-Signature)" in message
    assert "AIRBYTE_WEBHOOK_TOKEN is not set (the path token of Airbyte notifications)" in message
    assert "WEBHOOK_TRIGGER_TOKEN is not set (the bearer token of POST /webhooks/trigger)" in message


def test_a_prod_receiver_without_its_secrets_refuses_to_start_naming_them():
    env = {**{k: v for k, v in os.environ.items() if k not in SECRETS}, **_prod_without(*SECRETS)}
    env["AIRBYTE_DISCOVERY"] = "off"
    process = subprocess.run(
        [sys.executable, "-m", "airbyte_platform.events.receiver", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert process.returncode == 2, process.stdout + process.stderr
    for name in SECRETS:
        assert f"{name} is not set" in process.stderr
    assert "Traceback" not in process.stderr
