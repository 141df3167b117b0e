"""The code location's definitions: what `dagster dev`, the code server and every run and step process load.

`dagster dev` (workspace.yaml / pyproject [tool.dagster]) and `dagster api grpc -m` load `defs` from here;
how they are built is in code_location.py.
"""

from __future__ import annotations

import dagster as dg

from airbyte_platform.code_location import build_definitions
from airbyte_platform.enabled_parts import enablement_summary
from airbyte_platform.settings import get_settings

__all__ = ["build_definitions", "defs"]

defs = build_definitions(get_settings())
# Once per process that loads the code location: what this deployment runs, and what it leaves out.
dg.get_dagster_logger("airbyte_platform").info(
    enablement_summary(get_settings(), [job.name for job in defs.jobs or []])  # type: ignore[union-attr]
)
