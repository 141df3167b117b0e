"""Airbyte ingestion: declared connections, the embedded runner (local) and the Airbyte server (prod)."""
