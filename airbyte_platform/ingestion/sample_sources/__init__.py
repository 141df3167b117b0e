"""Sample Airbyte-protocol sources shaped like Stripe, HubSpot, Salesforce and an application PostgreSQL.

Run as connectors (`sample:<shape>` in connections.yaml):
`python -m airbyte_platform.ingestion.sample_sources <shape> spec|check|discover|read --config ...`.
Stream names, keys and field names follow Airbyte's real connectors; records are deterministic
(seed + index), related across streams, and fast enough to drive million-record benchmarks.
"""
