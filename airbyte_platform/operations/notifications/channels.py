"""The three ways a notification leaves: SMTP, Slack's Web API (dagster-slack), a JSON webhook.

Each channel sends one message to its recipients and raises on any failure; retrying and logging
belong to `delivery.py`. Secrets (SMTP password, Slack token, webhook URL) are resolved through
`dg.EnvVar` at send time, so they never sit in definitions, metadata or messages.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

import dagster as dg
import requests
from dagster_slack import SlackResource

from airbyte_platform.operations.notifications.message import Message
from airbyte_platform.settings import NotificationSettings


class Channel(Protocol):
    name: str

    def send(self, message: Message, recipients: tuple[str, ...]) -> None: ...


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotificationSettings):
        if settings.smtp_host is None:
            raise ValueError("SMTP_HOST is not set: e-mail notifications have no mail server")
        self.settings = settings

    def send(self, message: Message, recipients: tuple[str, ...]) -> None:
        s = self.settings
        email = EmailMessage()
        email["From"] = s.email_from
        email["To"] = ", ".join(recipients)
        email["Subject"] = message.subject
        email.set_content(message.text)
        assert s.smtp_host is not None
        if s.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                password = dg.EnvVar(s.smtp_password_var).get_value() if s.smtp_password_var else None
                client.login(s.smtp_username, password or "")
            client.send_message(email)


class SlackChannel:
    name = "slack"

    def __init__(self, settings: NotificationSettings):
        if settings.slack_token_var is None:
            raise ValueError("SLACK_TOKEN is not set: Slack notifications cannot authenticate")
        self.settings = settings

    def send(self, message: Message, recipients: tuple[str, ...]) -> None:
        token = dg.EnvVar(self.settings.slack_token_var).get_value()  # type: ignore[arg-type]
        client = SlackResource(token=token or "").get_client()
        client.timeout = int(self.settings.timeout_seconds)
        if self.settings.slack_api_url:
            client.base_url = f"{self.settings.slack_api_url}/"
        for channel in recipients:
            # Raises SlackApiError when Slack answers ok=false (unknown channel, revoked token, ...).
            client.chat_postMessage(channel=channel, text=f"*{message.subject}*\n{message.text}")


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: NotificationSettings):
        if settings.webhook_url_var is None:
            raise ValueError("NOTIFY_WEBHOOK_URL is not set: the webhook has nowhere to post")
        self.settings = settings

    def send(self, message: Message, recipients: tuple[str, ...]) -> None:
        url = dg.EnvVar(self.settings.webhook_url_var).get_value()  # type: ignore[arg-type]
        response = requests.post(url, json=message.payload, timeout=self.settings.timeout_seconds)
        if response.status_code >= 300:
            # Not raise_for_status(): its message carries the URL, and the URL may carry a token.
            raise RuntimeError(f"the webhook answered HTTP {response.status_code}")
