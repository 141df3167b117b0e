"""Sensors reading the webhook inbox (runs, Airbyte notifications) and what they ask the Dagster instance."""
