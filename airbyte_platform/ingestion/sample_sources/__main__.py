"""Entry point: `python -m airbyte_platform.ingestion.sample_sources <shape> <command> ...`."""

import sys

from airbyte_platform.ingestion.sample_sources.cli import main

sys.exit(main())
