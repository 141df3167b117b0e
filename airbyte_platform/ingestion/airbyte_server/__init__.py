"""Prod ingestion: a real Airbyte server (self-managed or Cloud) through dagster-airbyte."""
