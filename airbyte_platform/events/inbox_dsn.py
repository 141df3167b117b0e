"""Which webhook inbox a process opens: the configured PostgreSQL, or locally the one under the home.

The receiver and the metrics exporter resolve their inbox here, so both agree with the sensors
(`events.resources`) on the same database in every mode.
"""

from __future__ import annotations

from airbyte_platform.events.inbox import configured_inbox_dsn
from airbyte_platform.settings import Settings


def inbox_dsn_for(settings: Settings) -> str:
    """WEBHOOK_INBOX_DSN (or ANALYTICS_POSTGRES_DSN in prod); locally without it, the local
    PostgreSQL under AIRBYTE_PLATFORM_HOME, started now if it is not running."""
    dsn = configured_inbox_dsn(settings)
    if dsn is not None:
        return dsn
    # Local mode only (prod always has a DSN or fails above). Imported here only: the production
    # image has no pgserver.
    from airbyte_platform.events.local_inbox import local_inbox_dsn

    return local_inbox_dsn(settings.home)
