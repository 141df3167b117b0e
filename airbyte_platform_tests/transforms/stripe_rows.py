"""Lake rows of the Stripe transform tests: charges in two currencies (one failed), one refund."""

CHARGES = [
    {
        "id": "ch_1",
        "customer": "cus_1",
        "currency": "USD",
        "amount": 1000,
        "status": "succeeded",
        "created": 86_400,
    },
    {
        "id": "ch_2",
        "customer": "cus_1",
        "currency": "usd",
        "amount": 500,
        "status": "failed",
        "created": 86_400,
    },
    {
        "id": "ch_3",
        "customer": "cus_2",
        "currency": "eur",
        "amount": 700,
        "status": "succeeded",
        "created": 172_800,
    },
]
REFUNDS = [{"id": "re_1", "charge": "ch_1", "amount": 300, "status": "succeeded", "created": 90_000}]
