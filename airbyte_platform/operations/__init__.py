"""Operating the platform: run notifications and the Prometheus exporter."""
