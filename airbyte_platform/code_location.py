"""How the code location is built: one graph, resources bound by mode (local by default, prod when asked).

Importing this module builds nothing (`definitions.py` does, in the load context Dagster sets), so a
process can import every module of the code location ahead of time: the step executor's forkserver does.
"""

from __future__ import annotations

import dagster as dg

from airbyte_platform.airflow_compat.jobs import build_airflow_jobs
from airbyte_platform.enabled_parts import (
    enabled_assets,
    enabled_checks,
    enabled_sensor,
    runnable_job,
)
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
from airbyte_platform.settings import Settings
from airbyte_platform.transforms.defs import build_transform_defs
from airbyte_platform.transforms.resources import build_transform_resources


def _check_keys(defs: dg.Definitions) -> list[dg.AssetCheckKey]:
    keys: list[dg.AssetCheckKey] = []
    for definition in [*(defs.assets or []), *(defs.asset_checks or [])]:
        keys.extend(getattr(definition, "check_keys", ()))
    return keys


# Jobs that sync several connections side by side: steps fork from a server process that imported
# the code location's modules once per run, instead of each step process importing them again.
# It preloads this module, not `definitions`: the forkserver starts outside any load context, so
# definitions built there would be the latest workspace state's and the whole workspace (~10 s at
# 5,000 connections x 10 streams, measured by bench/scale.py), where each step builds the version its
# run was planned with, narrowed to its run's connections (ingestion/airbyte_server/run_scope.py).
# (Single-chain jobs run their steps in the run's own process: airflow_compat/jobs.py.)
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

    # A prod deployment that has not enabled an integration or a connection leaves its parts out
    # (enabled_parts.py); with everything enabled these filters keep everything.
    transforms = build_transform_defs()
    transforms = _replace(transforms, assets=enabled_assets(settings, transforms.assets or []))
    asset_keys = _asset_keys(ingestion) | _asset_keys(transforms)
    quality, events = build_quality_defs(settings), build_events_defs(settings)
    quality = _replace(quality, asset_checks=enabled_checks(settings, quality.asset_checks or [], asset_keys))
    events = _replace(events, asset_checks=enabled_checks(settings, events.asset_checks or [], asset_keys))
    graph = dg.Definitions.merge(ingestion, transforms, quality, _replace(events, sensors=[]))
    ops = sync_ops(ingestion.assets or [])
    jobs, schedules = build_airflow_jobs(settings, _check_keys(graph), ops)
    check_keys = set(_check_keys(graph))
    jobs = [job for job in jobs if runnable_job(job, asset_keys, check_keys, any_sync=bool(ops))]
    job_names = {job.name for job in [*jobs, *(graph.jobs or [])]}
    schedules = [schedule for schedule in schedules if schedule.job_name in job_names]
    operations = build_operations_defs(settings)
    sensors = [
        sensor
        for sensor in [*(events.sensors or []), *(operations.sensors or [])]
        if enabled_sensor(settings, sensor, job_names)  # type: ignore[arg-type]
    ]
    return dg.Definitions.merge(
        graph,
        dg.Definitions(
            jobs=jobs, schedules=schedules, sensors=sensors, resources=resources, executor=STEP_EXECUTOR
        ),
    )


def _replace(defs: dg.Definitions, **parts: object) -> dg.Definitions:
    """`defs` (a plain Definitions of one area) with some of its parts replaced."""
    fields = {
        "assets": defs.assets,
        "asset_checks": defs.asset_checks,
        "jobs": defs.jobs,
        "schedules": defs.schedules,
        "sensors": defs.sensors,
        "resources": defs.resources,
    }
    return dg.Definitions(**{**fields, **parts})  # type: ignore[arg-type]


def _asset_keys(defs: dg.Definitions) -> set[dg.AssetKey]:
    return {key for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) for key in a.keys}
