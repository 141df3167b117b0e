"""Quality of every sync and transform: minimum records, Great Expectations suites, freshness policies, transform-output checks."""
