"""Fixtures of the transform tests: prod settings pointed at loopback stand-ins."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakesnow
import pytest

from airbyte_platform.local_services.postgres import local_postgres, local_postgres_uri
from airbyte_platform.settings import Settings, load_settings
from airbyte_platform_tests.transforms.fake_databricks import FakeDatabricks
from airbyte_platform_tests.transforms.prod_support import CLUSTER_ID, PROD_ENV, STRIPE_JOB_ID, ProdSettings


@pytest.fixture
def prod_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ProdSettings:
    """`prod_settings(NAME=value, ...)`: prod settings from PROD_ENV plus overrides.

    The variables also go to the process environment, where `dg.EnvVar` resolves secrets.
    """

    def build(**overrides: str) -> Settings:
        env = {**PROD_ENV, "AIRBYTE_PLATFORM_HOME": str(tmp_path / "home"), **overrides}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings(env)

    return build


@pytest.fixture
def fake_databricks(tmp_path: Path) -> Iterator[FakeDatabricks]:
    with FakeDatabricks(tmp_path / "dbfs") as fake:
        fake.jobs[STRIPE_JOB_ID] = None
        fake.clusters[CLUSTER_ID] = {"cluster_name": "stripe-transform", "spark_version": "15.4.x-scala2.12"}
        yield fake


@pytest.fixture(scope="session")
def analytics_postgres() -> Iterator[str]:
    """A real PostgreSQL 16 (pgserver) standing in for ANALYTICS_POSTGRES_DSN.

    Not under pytest's basetemp: as root, pgserver runs PostgreSQL as its own user and opens the
    parent folders to it, and a concurrent pytest session closes /tmp/pytest-of-root again (0700).
    """
    root = Path(tempfile.mkdtemp(prefix="transforms-pg-"))
    pgdata = root / "data"
    uri = local_postgres_uri(pgdata, "analytics")
    yield uri
    server = local_postgres(pgdata)
    server.cleanup_mode = "stop"  # local_postgres leaves servers running for other processes
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def fakesnow_server() -> Iterator[dict[str, Any]]:
    """fakesnow in server mode on a loopback port: Snowflake's HTTP API, for the real connector."""
    with fakesnow.server() as connection_kwargs:
        yield connection_kwargs
