"""A code location of the real definitions (local mode) for the freshness daemon test to load in
process. Its home is a fixed folder under the system temp dir: nothing in it is started or written
at load time (resources connect lazily)."""

import tempfile
from pathlib import Path

from airbyte_platform.definitions import build_definitions
from airbyte_platform.settings import load_settings

defs = build_definitions(
    load_settings({"AIRBYTE_PLATFORM_HOME": str(Path(tempfile.gettempdir()) / "freshness-location")})
)
