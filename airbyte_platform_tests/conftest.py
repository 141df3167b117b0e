"""Suite-wide options only; area fixtures live in each area's conftest.py."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite airbyte_platform_tests/snapshots/* from the current definitions (a deliberate rename)",
    )
