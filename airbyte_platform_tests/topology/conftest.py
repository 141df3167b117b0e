"""The production topology in miniature for end-to-end tests: one `make dev` per test session
(xdist group "topology"), started and stopped by process.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airbyte_platform_tests.topology.process import (
    AIRBYTE_TOKEN,
    STRIPE_SECRET,
    TRIGGER_TOKEN,
    Topology,
    running_topology,
)

__all__ = ["AIRBYTE_TOKEN", "STRIPE_SECRET", "TRIGGER_TOKEN", "Topology"]


@pytest.fixture(scope="session")
def topology() -> Iterator[Topology]:
    with running_topology() as running:
        yield running
