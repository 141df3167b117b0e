"""`airbyte_event_driven_sync` takes any connection of the workspace, declared or discovered: the
launchpad's run config `{"connection_id": ...}` resolves to that connection's sync op, and a trigger
for a discovered connection is accepted by the receiver's validation."""

from __future__ import annotations

import dagster as dg
import pytest

from airbyte_platform.airflow_compat.jobs import build_airflow_jobs
from airbyte_platform.events.routes import TriggerError, validate_trigger
from airbyte_platform.ingestion.airbyte_server.defs import (
    build_prod_ingestion_defs,
    build_prod_ingestion_resources,
)
from airbyte_platform.ingestion.sync_ops import RUN_CONFIG_KEY, sync_ops


@pytest.fixture
def prod_ops(prod_settings, airbyte_server):
    return sync_ops(build_prod_ingestion_defs(prod_settings).assets or [])


def _event_driven_job(prod_settings, ops) -> dg.UnresolvedAssetJobDefinition:
    jobs, _ = build_airflow_jobs(prod_settings, [], ops)
    return next(job for job in jobs if job.name == "airbyte_event_driven_sync")


def test_a_discovered_connection_is_the_run_config_of_one_sync_op(prod_settings, prod_ops):
    discovered = next(op for op in prod_ops if op.op_name.startswith("airbyte_sync_zendesk"))
    mapping = _event_driven_job(prod_settings, prod_ops).config
    assert isinstance(mapping, dg.ConfigMapping)
    ops_config = mapping.config_fn({RUN_CONFIG_KEY: discovered.connection_id})["ops"]
    assert set(ops_config) == {op.op_name for op in prod_ops}  # every sync op learns the target...
    assert {c["config"][RUN_CONFIG_KEY] for c in ops_config.values()} == {discovered.connection_id}
    # ...and a declared connection can be named instead of its id
    by_name = mapping.config_fn({RUN_CONFIG_KEY: "hubspot_to_postgres"})["ops"]
    hubspot = next(op for op in prod_ops if op.connection_name == "hubspot_to_postgres")
    assert by_name[hubspot.op_name]["config"][RUN_CONFIG_KEY] == hubspot.connection_id
    with pytest.raises(ValueError, match="not a connection of this code location"):
        mapping.config_fn({RUN_CONFIG_KEY: "00000000-no-such-connection"})


def test_the_job_selects_every_connection_of_the_workspace(prod_settings, prod_ops):
    job = _event_driven_job(prod_settings, prod_ops)
    defs = dg.Definitions(
        assets=build_prod_ingestion_defs(prod_settings).assets,
        jobs=[job],
        resources=build_prod_ingestion_resources(prod_settings),
    )
    selected = defs.resolve_job_def(job.name).asset_layer.executable_asset_keys
    assert selected == {key for op in prod_ops for key in op.keys}


def test_a_trigger_for_a_discovered_connection_is_accepted(prod_settings, prod_ops):
    discovered = next(op for op in prod_ops if op.op_name.startswith("airbyte_sync_zendesk"))
    config = validate_trigger(
        "airbyte_event_driven_sync", {"connection_id": discovered.connection_id}, prod_settings
    )
    assert config == {"connection_id": discovered.connection_id}
    with pytest.raises(TriggerError, match="unknown connection_id"):
        validate_trigger(
            "airbyte_event_driven_sync", {"connection_id": "not-in-the-workspace"}, prod_settings
        )
