"""Databricks (processed lake data) and Snowflake (analytics tables) assets."""
