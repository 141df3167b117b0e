"""The loopback fake Airbyte server of the airbyte_server tests, for the hook and resilient_sync tests,
and the real PostgreSQL (pgserver) of the ingestion tests, where a sync writes for real."""

from airbyte_platform_tests.airbyte_server.conftest import (  # noqa: F401
    airbyte_server,
    airbyte_state,
    dagster_instance,
    prod_env,
    prod_settings,
)
from airbyte_platform_tests.ingestion.conftest import pg, postgres_dsn  # noqa: F401
