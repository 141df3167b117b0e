"""Local stand-ins for external services: PostgreSQL from the pgserver wheel."""
