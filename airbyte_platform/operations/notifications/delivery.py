"""Send a report on every channel its recipients need, each retried, none allowed to raise.

A channel that keeps failing is logged and recorded on the run as a tag
(`airbyte_platform/notification.<channel>` = `sent` | `failed`), which is what the Prometheus
exporter counts: the outcome lives in the instance, not in the sensor's memory. The reported run
has finished already; nothing here can change its status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dagster as dg

from airbyte_platform.operations.notifications.channels import (
    Channel,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
)
from airbyte_platform.operations.notifications.message import Message
from airbyte_platform.operations.notifications.report import mask
from airbyte_platform.operations.notifications.routing import Recipients
from airbyte_platform.settings import NotificationSettings

TAG_PREFIX = "airbyte_platform/notification."
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class ChannelOutcome:
    channel: str
    sent: bool
    attempts: int
    error: str | None = None


def channels_for(
    settings: NotificationSettings, recipients: Recipients
) -> list[tuple[Channel, tuple[str, ...]]]:
    planned: list[tuple[Channel, tuple[str, ...]]] = []
    if recipients.email_to:
        planned.append((EmailChannel(settings), recipients.email_to))
    if recipients.slack_channels:
        planned.append((SlackChannel(settings), recipients.slack_channels))
    if recipients.webhook:
        planned.append((WebhookChannel(settings), ()))
    return planned


def send_with_retries(
    channel: Channel,
    message: Message,
    recipients: tuple[str, ...],
    attempts: int,
    log: logging.Logger,
    secrets: tuple[str, ...] = (),
    sleep: Sleep = time.sleep,
    backoff_seconds: float = 1.0,
) -> ChannelOutcome:
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            channel.send(message, recipients)
        except Exception as exc:  # any channel error: logged, retried, never raised to the caller
            error = mask(f"{type(exc).__name__}: {exc}", secrets)[:500]
            log.warning(f"notification via {channel.name} failed (attempt {attempt} of {attempts}): {error}")
            if attempt < attempts:
                sleep(backoff_seconds * 2 ** (attempt - 1))
            continue
        log.info(f"notification via {channel.name} sent to {', '.join(recipients) or 'the webhook'}")
        return ChannelOutcome(channel.name, True, attempt)
    return ChannelOutcome(channel.name, False, attempts, error)


def deliver(
    instance: dg.DagsterInstance,
    run_id: str,
    message: Message,
    recipients: Recipients,
    settings: NotificationSettings,
    log: logging.Logger,
    secrets: tuple[str, ...] = (),
    sleep: Sleep = time.sleep,
) -> list[ChannelOutcome]:
    outcomes = [
        send_with_retries(channel, message, to, settings.attempts, log, secrets, sleep)
        for channel, to in channels_for(settings, recipients)
    ]
    if outcomes:
        tags: Mapping[str, str] = {
            f"{TAG_PREFIX}{outcome.channel}": "sent" if outcome.sent else "failed" for outcome in outcomes
        }
        try:
            instance.add_run_tags(run_id, tags)
        except Exception as exc:  # the tag is bookkeeping; losing it must not hide the sends
            log.warning(f"could not record notification outcomes on run {run_id}: {exc}")
    return outcomes
