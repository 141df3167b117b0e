"""The loopback fake Airbyte server of the airbyte_server tests, for the hook tests."""

from airbyte_platform_tests.airbyte_server.conftest import (  # noqa: F401
    airbyte_server,
    airbyte_state,
    prod_env,
    prod_settings,
)
