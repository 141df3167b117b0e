"""Sample Airbyte-protocol sources shaped like Stripe, HubSpot, Salesforce and an application PostgreSQL."""
