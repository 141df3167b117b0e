"""Shared pieces of the transform tests: the prod environment and reading a failed run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from airbyte_platform.settings import Settings
from airbyte_platform_tests.transforms.fake_databricks import TOKEN

STRIPE_JOB_ID = 4242
CLUSTER_ID = "0123-456789-loopback"

# Every variable prod requires; the Databricks and Snowflake ones are replaced per test.
PROD_ENV = {
    "AIRBYTE_PLATFORM_MODE": "prod",
    "AIRBYTE_API_URL": "http://127.0.0.1:9",
    "AIRBYTE_API_USERNAME": "airbyte",
    "AIRBYTE_API_PASSWORD": "airbyte-password",
    "AIRBYTE_STRIPE_S3_CONNECTION_ID": "00000000-0000-0000-0000-000000000001",
    "AIRBYTE_STRIPE_POSTGRES_CONNECTION_ID": "00000000-0000-0000-0000-000000000002",
    "AIRBYTE_HUBSPOT_CONNECTION_ID": "00000000-0000-0000-0000-000000000003",
    "AIRBYTE_PG_PG_CONNECTION_ID": "00000000-0000-0000-0000-000000000004",
    "AIRBYTE_SALESFORCE_CONNECTION_ID": "00000000-0000-0000-0000-000000000005",
    "DATABRICKS_HOST": "http://127.0.0.1:9",
    "DATABRICKS_TOKEN": TOKEN,
    "DATABRICKS_STRIPE_JOB_ID": str(STRIPE_JOB_ID),
    "SNOWFLAKE_ACCOUNT": "acme-xy12345",
    "SNOWFLAKE_USER": "dagster",
    "SNOWFLAKE_PASSWORD": "snowflake-password",
    "STRIPE_WEBHOOK_SECRET": "whsec_test",
    "AIRBYTE_WEBHOOK_TOKEN": "airbyte-path-token",
    "WEBHOOK_TRIGGER_TOKEN": "trigger-token",
    "CDC_SOURCE_DSN": "postgresql://cdc:pw@127.0.0.1:9/app",
    "ANALYTICS_POSTGRES_DSN": "postgresql://an:pw@127.0.0.1:9/analytics",
}

# prod_settings(NAME=value, ...) -> Settings (the conftest fixture)
ProdSettings = Callable[..., Settings]


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """The error message (and Failure description) of the run's failed step."""
    events = result.get_step_failure_events()
    assert events, "the run was expected to fail"
    data = events[0].step_failure_data
    parts = [data.error.message if data.error else ""]
    parts += [cause.message for cause in _causes(data.error)]
    if data.user_failure_data is not None:
        parts.append(data.user_failure_data.description or "")
    return "\n".join(parts)


def _causes(error: object) -> Iterator[Any]:
    cause = getattr(error, "cause", None)
    while cause is not None:
        yield cause
        cause = cause.cause
