"""Suite-wide options only; area fixtures live in each area's conftest.py."""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist workers run with a bare `__main__` (no __spec__, no __file__). pyspark's
    # `sql.connect` takes that for a doctest run and calls sys.exit(0) when Great Expectations
    # probes it on import, killing the test. `dagster dev` and `make demo` never look like that.
    main = sys.modules["__main__"]
    if getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
        main.__file__ = "<pytest-xdist worker>"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite airbyte_platform_tests/snapshots/* from the current definitions (a deliberate rename)",
    )
