"""The unified analytics tables, as Snowflake SQL over the raw tables loaded from PostgreSQL."""

from __future__ import annotations

# Raw inputs: table in Snowflake <- query on the analytics PostgreSQL (Airbyte's destination).
RAW_INPUTS: dict[str, str] = {
    "RAW_STRIPE_CUSTOMERS": "SELECT id, email, name, currency, created FROM stripe_raw.customers",
    "RAW_STRIPE_CHARGES": "SELECT id, customer, amount, amount_refunded, currency, status, created FROM stripe_raw.charges",
    "RAW_STRIPE_INVOICES": "SELECT id, customer, amount_paid, currency, status, created FROM stripe_raw.invoices",
    "RAW_HUBSPOT_CONTACTS": "SELECT id, properties->>'email' AS email, \"updatedAt\" AS updated_at FROM hubspot_raw.contacts",
    "RAW_HUBSPOT_DEALS": (
        "SELECT id, properties->>'dealstage' AS stage, (properties->>'amount')::numeric AS amount "
        "FROM hubspot_raw.deals"
    ),
    "RAW_SALESFORCE_CONTACTS": 'SELECT "Id" AS id, "Email" AS email, "AccountId" AS account_id FROM salesforce_raw.contact',
    "RAW_SALESFORCE_OPPORTUNITIES": (
        'SELECT "Id" AS id, "StageName" AS stage, "Amount" AS amount, "IsClosed" AS is_closed, "IsWon" AS is_won '
        "FROM salesforce_raw.opportunity"
    ),
}

TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    # customers_unified: one row per e-mail known to Stripe, HubSpot or Salesforce.
    "CUSTOMERS_UNIFIED": (
        ("RAW_STRIPE_CUSTOMERS", "RAW_HUBSPOT_CONTACTS", "RAW_SALESFORCE_CONTACTS"),
        """
        CREATE OR REPLACE TABLE CUSTOMERS_UNIFIED AS
        WITH emails AS (
            SELECT LOWER(email) AS email, id AS stripe_customer_id, NULL AS hubspot_contact_id, NULL AS salesforce_contact_id
            FROM RAW_STRIPE_CUSTOMERS WHERE email IS NOT NULL
            UNION ALL
            SELECT LOWER(email), NULL, id, NULL FROM RAW_HUBSPOT_CONTACTS WHERE email IS NOT NULL
            UNION ALL
            SELECT LOWER(email), NULL, NULL, id FROM RAW_SALESFORCE_CONTACTS WHERE email IS NOT NULL
        )
        SELECT email,
               MAX(stripe_customer_id) AS stripe_customer_id,
               MAX(hubspot_contact_id) AS hubspot_contact_id,
               MAX(salesforce_contact_id) AS salesforce_contact_id,
               (MAX(stripe_customer_id) IS NOT NULL)::INT + (MAX(hubspot_contact_id) IS NOT NULL)::INT
                 + (MAX(salesforce_contact_id) IS NOT NULL)::INT AS source_count
        FROM emails GROUP BY email
        """,
    ),
    # revenue_analytics: Stripe revenue by month and currency, charges net of refunds.
    "REVENUE_ANALYTICS": (
        ("RAW_STRIPE_CHARGES", "RAW_STRIPE_INVOICES"),
        """
        CREATE OR REPLACE TABLE REVENUE_ANALYTICS AS
        SELECT DATE_TRUNC('month', TO_TIMESTAMP(created)) AS month,
               LOWER(currency) AS currency,
               COUNT(*) AS charges,
               SUM(amount) AS gross_amount,
               SUM(amount_refunded) AS refunded_amount,
               SUM(amount - amount_refunded) AS net_amount
        FROM RAW_STRIPE_CHARGES WHERE status = 'succeeded'
        GROUP BY 1, 2
        """,
    ),
    # sales_pipeline: open and won pipeline by stage, Salesforce opportunities and HubSpot deals.
    "SALES_PIPELINE": (
        ("RAW_SALESFORCE_OPPORTUNITIES", "RAW_HUBSPOT_DEALS"),
        """
        CREATE OR REPLACE TABLE SALES_PIPELINE AS
        SELECT 'salesforce' AS source, stage, COUNT(*) AS deals, SUM(COALESCE(amount, 0)) AS amount,
               SUM(CASE WHEN is_won THEN 1 ELSE 0 END) AS won
        FROM RAW_SALESFORCE_OPPORTUNITIES GROUP BY stage
        UNION ALL
        SELECT 'hubspot', stage, COUNT(*), SUM(COALESCE(amount, 0)),
               SUM(CASE WHEN stage = 'closedwon' THEN 1 ELSE 0 END)
        FROM RAW_HUBSPOT_DEALS GROUP BY stage
        """,
    ),
}
