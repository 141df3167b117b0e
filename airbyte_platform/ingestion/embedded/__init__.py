"""Embedded Airbyte-protocol runner: runs source connectors as subprocesses and writes their records to the lake or PostgreSQL."""
