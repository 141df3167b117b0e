"""The code location: one graph, resources bound by mode (local by default, prod when asked).

`dagster dev` (workspace.yaml / pyproject [tool.dagster]) loads `defs` from here.
"""

from __future__ import annotations

import dagster as dg

from airbyte_platform.airflow_compat.jobs import build_airflow_jobs
from airbyte_platform.events.defs import build_events_defs, build_events_resources
from airbyte_platform.ingestion.local_defs import (
    build_destinations_resource,
    build_local_ingestion_defs,
    build_local_ingestion_resources,
)
from airbyte_platform.ingestion.sync_ops import sync_ops
from airbyte_platform.operations.defs import build_operations_defs
from airbyte_platform.quality.defs import build_quality_defs
from airbyte_platform.quality.freshness import with_freshness_policies
from airbyte_platform.settings import Settings, get_settings
from airbyte_platform.transforms.defs import build_transform_defs
from airbyte_platform.transforms.resources import build_transform_resources


def _check_keys(defs: dg.Definitions) -> list[dg.AssetCheckKey]:
    keys: list[dg.AssetCheckKey] = []
    for definition in [*(defs.assets or []), *(defs.asset_checks or [])]:
        keys.extend(getattr(definition, "check_keys", ()))
    return keys


# Jobs that sync several connections side by side: steps fork from a server process that imported
# the code location once per run, instead of each step process importing it again. (Single-chain
# jobs run their steps in the run's own process: airflow_compat/jobs.py.)
STEP_EXECUTOR = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": [__name__]}}}
)


def build_definitions(settings: Settings) -> dg.Definitions:
    if settings.is_local:
        ingestion, resources = build_local_ingestion_defs(settings), build_local_ingestion_resources(settings)
    else:
        from airbyte_platform.ingestion.airbyte_server.defs import (
            build_prod_ingestion_defs,
            build_prod_ingestion_resources,
        )

        ingestion, resources = build_prod_ingestion_defs(settings), build_prod_ingestion_resources(settings)
    ingestion = with_freshness_policies(ingestion)
    resources = {
        "destinations": build_destinations_resource(settings),
        **build_transform_resources(settings),
        **build_events_resources(settings),
        **resources,
    }

    graph = dg.Definitions.merge(
        ingestion,
        build_transform_defs(),
        build_quality_defs(settings),
        build_events_defs(settings),
        build_operations_defs(settings),
    )
    jobs, schedules = build_airflow_jobs(settings, _check_keys(graph), sync_ops(ingestion.assets or []))
    return dg.Definitions.merge(
        graph, dg.Definitions(jobs=jobs, schedules=schedules, resources=resources, executor=STEP_EXECUTOR)
    )


defs = build_definitions(get_settings())
