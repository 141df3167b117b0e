"""Asset checks guarding every sync: minimum records, Great Expectations suites, freshness."""
