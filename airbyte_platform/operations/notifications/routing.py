"""Who is told about a run: the default route, or the routes of its job and connections."""

from __future__ import annotations

from dataclasses import dataclass

from airbyte_platform.operations.notifications.report import RunReport
from airbyte_platform.settings import NotificationRoute, NotificationSettings


@dataclass(frozen=True)
class Recipients:
    email_to: tuple[str, ...] = ()
    slack_channels: tuple[str, ...] = ()
    webhook: bool = False

    @property
    def empty(self) -> bool:
        return not (self.email_to or self.slack_channels or self.webhook)


def matching_routes(report: RunReport, settings: NotificationSettings) -> list[NotificationRoute]:
    """Routes of the run's job and connections; the default when none is configured for them.

    A route replaces the default (rather than adding to it) so a noisy job can be quietened or
    sent elsewhere without touching every other run's recipients.
    """
    keys = [f"job:{report.job_name}", *(f"connection:{name}" for name in report.connections)]
    routes = [settings.routes[key] for key in keys if key in settings.routes]
    return routes or [settings.default]


def recipients_for(report: RunReport, settings: NotificationSettings) -> Recipients:
    routes = [route for route in matching_routes(report, settings) if report.outcome in route.on]
    return Recipients(
        email_to=tuple(sorted({address for route in routes for address in route.email_to})),
        slack_channels=tuple(sorted({route.slack_channel for route in routes if route.slack_channel})),
        webhook=any(route.webhook for route in routes),
    )
