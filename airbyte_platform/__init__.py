"""Dagster code location replacing the Airflow + Airbyte orchestration."""
