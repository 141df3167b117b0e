"""Databricks: the Stripe transform (PySpark) and the ways to run it (local Spark, run-now, Pipes)."""
