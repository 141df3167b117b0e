"""Fixtures of the quality tests: the real PostgreSQL of the ingestion tests."""

from airbyte_platform_tests.ingestion.conftest import pg, postgres_dsn

__all__ = ["pg", "postgres_dsn"]
