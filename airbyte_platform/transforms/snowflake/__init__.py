"""Snowflake analytics tables, loaded through the Snowflake connector (fakesnow locally)."""
