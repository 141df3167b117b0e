"""A code location with only the prod ingestion, wired as definitions.py wires it.

The SIGTERM test runs `dagster asset materialize -m` on it in a subprocess: the real CLI, executor
and signal handling, without loading the other areas (Snowflake, Databricks) it does not exercise.
"""

import dagster as dg

from airbyte_platform.ingestion.airbyte_server.defs import (
    build_prod_ingestion_defs,
    build_prod_ingestion_resources,
)
from airbyte_platform.settings import get_settings

settings = get_settings()
defs = dg.Definitions.merge(
    build_prod_ingestion_defs(settings), dg.Definitions(resources=build_prod_ingestion_resources(settings))
)
