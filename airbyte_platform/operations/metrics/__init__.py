"""The Prometheus exporter: figures read from the Dagster instance, the webhook inbox and the CDC
slot at scrape time, served at /metrics by `python -m airbyte_platform.operations.metrics`."""
