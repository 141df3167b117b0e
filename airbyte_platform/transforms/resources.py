"""Transform resources by mode: local Spark (a Pipes subprocess) and fakesnow locally; Databricks and
Snowflake in prod."""

from __future__ import annotations

import dagster as dg

from airbyte_platform.settings import DatabricksSettings, Settings, SnowflakeSettings
from airbyte_platform.transforms.databricks.runners import (
    DatabricksPipesTransform,
    DatabricksRunNowTransform,
    StripeTransformResource,
)
from airbyte_platform.transforms.snowflake.local_snowflake import LocalSnowflakeResource
from airbyte_platform.transforms.snowflake.resource import SnowflakeWarehouseResource


def build_transform_resources(settings: Settings) -> dict[str, object]:
    snowflake_settings, databricks_settings = settings.snowflake, settings.databricks
    assert snowflake_settings is not None and databricks_settings is not None
    if settings.is_local:
        # Local only (a JDK on this machine): imported in the local branch alone.
        from airbyte_platform.transforms.databricks.local_pipes import LocalPipesTransform

        return {
            "databricks_transform": LocalPipesTransform(),
            "snowflake": LocalSnowflakeResource(
                account="local",
                user="dagster",
                password="local",
                database=snowflake_settings.database,
                schema_name=snowflake_settings.schema,
                db_path=str(settings.home / "snowflake"),
            ),
        }
    resources: dict[str, object] = {}
    if settings.is_enabled("databricks"):
        resources["databricks_transform"] = _databricks_transform(databricks_settings)
    if settings.is_enabled("snowflake"):
        resources["snowflake"] = _snowflake_resource(snowflake_settings)
    return resources  # a disabled integration's assets are left out with its resource (enabled_parts.py)


def _databricks_transform(databricks_settings: DatabricksSettings) -> StripeTransformResource:
    assert databricks_settings.host and databricks_settings.token_var
    databricks = {"host": databricks_settings.host, "token": dg.EnvVar(databricks_settings.token_var)}
    transform: StripeTransformResource
    if databricks_settings.transform_mode == "pipes":
        transform = DatabricksPipesTransform(
            **databricks, cluster_id=databricks_settings.pipes_cluster_id or ""
        )
    else:
        assert databricks_settings.stripe_job_id is not None
        transform = DatabricksRunNowTransform(**databricks, job_id=databricks_settings.stripe_job_id)
    return transform


def _snowflake_resource(snowflake_settings: SnowflakeSettings) -> SnowflakeWarehouseResource:
    assert snowflake_settings.password_var
    # SNOWFLAKE_HOST/PORT/PROTOCOL, when set, go to snowflake.connector.connect as they are.
    endpoint = {
        "host": snowflake_settings.host,
        "port": snowflake_settings.port,
        "protocol": snowflake_settings.protocol,
    }
    return SnowflakeWarehouseResource(
        account=snowflake_settings.account or "",
        user=snowflake_settings.user or "",
        password=dg.EnvVar(snowflake_settings.password_var),
        warehouse=snowflake_settings.warehouse,
        database=snowflake_settings.database,
        schema_name=snowflake_settings.schema,
        role=snowflake_settings.role,
        connection_args={k: v for k, v in endpoint.items() if v is not None} or None,
    )
