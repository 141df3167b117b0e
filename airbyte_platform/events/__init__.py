"""Event-driven runs: webhook receiver, durable inbox, sensors (webhooks, Airbyte jobs, CDC lag)."""
