"""Stripe-shaped streams (field names as in Airbyte source-stripe's schemas; cursor `created`).

One billing event per index: charge i, invoice i and subscription i belong to the same customer
(one created before them), invoice i is paid by charge i when it is `paid`, and every tenth charge
(index % 10 == 3) is refunded by a refund, so joins across streams find their rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from airbyte_platform.ingestion.sample_sources.dice import Dice, random_ids
from airbyte_platform.ingestion.sample_sources.fields import Field, json_bools, json_text, nullable
from airbyte_platform.ingestion.sample_sources.lazy import numpy as np
from airbyte_platform.ingestion.sample_sources.shapes.common import DAY_SECONDS, people, places, timeline
from airbyte_platform.ingestion.sample_sources.streams import Columns, SampleStream, Shape, UnixSecondsCursor
from airbyte_platform.ingestion.sample_sources.vocabulary import PRODUCT_NAMES

BASE = 1_672_531_200  # 2023-01-01T00:00:00Z
STEP = 60  # seconds between consecutive records of a stream, on average
REFUND_EVERY, REFUND_OFFSET = 10, 3  # charges 3, 13, 23, ... are refunded
REFUND_DELAY = 3 * DAY_SECONDS  # plus up to REFUND_EVERY * STEP * 0.8: refunds stay in charge order
PERIOD = 30 * DAY_SECONDS
PLAN_AMOUNTS = (900, 2_900, 9_900, 49_900)
CURRENCIES, CURRENCY_WEIGHTS = ("usd", "eur", "gbp", "cad"), (70, 15, 10, 5)
INVOICE_STATUSES, INVOICE_WEIGHTS = ("paid", "open", "void", "uncollectible", "draft"), (80, 8, 4, 3, 5)
SUBSCRIPTION_STATUSES, SUBSCRIPTION_WEIGHTS = (
    ("active", "canceled", "past_due", "trialing", "incomplete"),
    (70, 15, 5, 7, 3),
)
CHARGE_STATUSES, CHARGE_WEIGHTS = ("succeeded", "pending", "failed"), (90, 3, 7)
FAILURES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
}
# Test-mode cards (livemode is false): Stripe's test card numbers, by brand.
CARD_BRANDS, CARD_WEIGHTS = ("visa", "mastercard", "amex", "discover"), (55, 30, 10, 5)
CARD_LAST4 = {"visa": "4242", "mastercard": "4444", "amex": "8431", "discover": "1117"}
CARD_FUNDING = ("credit", "debit", "prepaid")
CARD_EXP_YEARS = tuple(range(2026, 2032))
CURSOR = UnixSecondsCursor()


def _null(name: str, type_: str = "string") -> Field:
    """A field source-stripe declares that the samples leave null (e.g. Connect-only attributes)."""
    return Field(name, type_, nullable=True, const=None)  # type: ignore[arg-type]


def _text(name: str, column: str | None = None) -> Field:
    """A string source-stripe declares nullable that the samples always set (column: plain text)."""
    return Field(name, "string", nullable=True, column=column, quote=True)


def _optional(name: str, column: str | None = None) -> Field:
    """A string that is sometimes null (column: JSON text, see `nullable`)."""
    return Field(name, "string", nullable=True, column=column)


LIVEMODE = Field("livemode", "boolean", const=False)
EMPTY_METADATA = Field("metadata", "object", const={})
ADDRESS_FIELDS = (
    _text("city", "address_city"),
    _text("country", "address_country"),
    _text("line1", "address_line1"),
    _null("line2"),
    _text("postal_code", "address_postal_code"),
    _optional("state", "address_state"),
)
# What Stripe Checkout collects for a card payment: country and postal code.
BILLING_ADDRESS_FIELDS = (
    _null("city"),
    _text("country", "address_country"),
    _null("line1"),
    _null("line2"),
    _text("postal_code", "address_postal_code"),
    _null("state"),
)


# ---------------------------------------------------------------------- derivations shared by streams


def customer_of(dice: Dice) -> np.ndarray:
    """The customer index of billing event i: charge, invoice and subscription i share it."""
    return dice.earlier("billing/customer")


def customer_ids(dice: Dice) -> list[str]:
    return random_ids("cus_", dice, "customer/id")


def customer_currency(dice: Dice) -> np.ndarray:
    return dice.pick("customer/currency", CURRENCIES, CURRENCY_WEIGHTS)


def customer_has_email(dice: Dice) -> np.ndarray:
    return dice.chance("customer/has_email", 0.95)


def plan_index(dice: Dice) -> np.ndarray:
    return dice.pick_index("subscription/plan", len(PLAN_AMOUNTS), (50, 30, 15, 5))


def subscription_quantity(dice: Dice) -> np.ndarray:
    return dice.integers("subscription/quantity", 1, 6)


def invoice_status(dice: Dice) -> np.ndarray:
    return dice.pick("invoice/status", INVOICE_STATUSES, INVOICE_WEIGHTS)


def invoice_amounts(dice: Dice) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(subscription billed, subtotal, taxed, tax) of invoice i: subscription plan x quantity, or manual."""
    billed = dice.chance("invoice/subscription_billed", 0.7)
    subtotal = np.where(
        billed,
        _plan_amounts()[plan_index(dice)] * subscription_quantity(dice),
        dice.integers("invoice/manual_amount", 500, 200_000),
    )
    taxed = dice.chance("invoice/taxed", 0.5)
    tax = np.where(taxed, (subtotal * 0.08).astype(np.int64), 0)
    return billed, subtotal, taxed, tax


def charge_amounts(dice: Dice) -> tuple[np.ndarray, np.ndarray]:
    """(amount, pays its invoice) of charge i: the total of invoice i when that is paid, else one-off."""
    pays_invoice = invoice_status(dice) == "paid"
    _, subtotal, _, tax = invoice_amounts(dice)
    one_off = (np.exp(dice.uniform("charge/amount") * np.log(5_000)) * 100).astype(np.int64) + 50
    return np.where(pays_invoice, subtotal + tax, one_off), pays_invoice


def is_refunded(index: np.ndarray) -> np.ndarray:
    return index % REFUND_EVERY == REFUND_OFFSET


def refund_amounts(dice: Dice, amount: np.ndarray) -> np.ndarray:
    """The refund of charge i (full or partial) when it is a refunded charge, else 0."""
    full = dice.chance("refund/full", 0.6)
    partial = (amount * (0.1 + 0.8 * dice.uniform("refund/fraction"))).astype(np.int64)
    return np.where(is_refunded(dice.index), np.where(full, amount, partial), 0)


def charge_created(dice: Dice) -> np.ndarray:
    return timeline(dice, base=BASE, step=STEP, window=(0.6, 0.8), purpose="charge/created")


def plan_catalog(seed: int) -> tuple[list[str], list[str]]:
    """(price ids, product ids) of the plans."""
    dice = Dice(seed, np.arange(len(PLAN_AMOUNTS), dtype=np.int64))
    return random_ids("price_", dice, "plan/id"), random_ids("prod_", dice, "product/id")


def _variants(build: Callable[..., dict[str, Any]], *dimensions: Sequence[Any]) -> np.ndarray:
    """JSON text of `build(*combination)` for every combination of `dimensions` (row-major order):
    an object whose properties take few values is rendered once per variant, not once per record."""
    combinations = itertools.product(*dimensions)
    return np.asarray(json_text(build(*combination) for combination in combinations), dtype=object)


def _outcome(failed: bool, risk_score: int) -> dict[str, Any]:
    elevated = risk_score > 75
    return {
        "network_status": "declined_by_network" if failed else "approved_by_network",
        "reason": "elevated_risk_level" if elevated else None,
        "risk_level": "elevated" if elevated else "normal",
        "risk_score": risk_score,
        "seller_message": "The bank did not return any further details." if failed else "Payment complete.",
        "type": "issuer_declined" if failed else "authorized",
    }


def _card(brand: str, funding: str, exp_month: int, exp_year: int) -> dict[str, Any]:
    card = {
        "brand": brand,
        "country": "US",
        "exp_month": exp_month,
        "exp_year": exp_year,
        "funding": funding,
        "last4": CARD_LAST4[brand],
    }
    return {"card": card, "type": "card"}


@dataclass(frozen=True)
class _ChargeTables:
    """JSON text of a charge's few-valued objects, indexed by per-record picks."""

    outcomes: np.ndarray  # by failed * 100 + risk score
    cards: np.ndarray  # by ((brand * funding) * 12 + month) * years + year
    failure_codes: np.ndarray  # by failure (len(FAILURES): none)
    failure_messages: np.ndarray


@cache
def _charge_tables() -> _ChargeTables:
    """Built on first use, not at import: `spec`/`check`/`discover` never load numpy (see `lazy.py`)."""
    return _ChargeTables(
        outcomes=_variants(_outcome, (False, True), range(100)),
        cards=_variants(_card, CARD_BRANDS, CARD_FUNDING, range(1, 13), CARD_EXP_YEARS),
        failure_codes=np.asarray([*json_text(FAILURES), "null"], dtype=object),
        failure_messages=np.asarray([*json_text(FAILURES.values()), "null"], dtype=object),
    )


@cache
def _plan_amounts() -> np.ndarray:
    return np.array(PLAN_AMOUNTS)


# ------------------------------------------------------------------------------------------ customers


def _customer_columns(dice: Dice, created: np.ndarray) -> Columns:
    person = people(dice, "customer")
    place = places(dice, "customer")
    credit = dice.chance("customer/has_credit", 0.05)
    return {
        "id": customer_ids(dice),
        "address_city": place.city.tolist(),
        "address_country": place.country.tolist(),
        "address_line1": place.line1.tolist(),
        "address_postal_code": place.postal_code.tolist(),
        "address_state": nullable(place.state, place.has_state),
        "balance": np.where(credit, -dice.integers("customer/credit", 100, 5_000), 0).tolist(),
        "currency": customer_currency(dice).tolist(),
        "delinquent": json_bools(dice.chance("customer/delinquent", 0.03)),
        "description": nullable(
            np.full(len(created), "Sample customer", dtype=object), dice.chance("customer/has_desc", 0.2)
        ),
        "email": nullable(person.email, customer_has_email(dice)),
        "invoice_prefix": invoice_prefixes(dice),
        "tier": dice.pick("customer/tier", ("free", "pro", "enterprise"), (60, 30, 10)).tolist(),
        "signup_source": dice.pick("customer/signup_source", ("web", "sales", "partner")).tolist(),
        "name": person.name.tolist(),
        "next_invoice_sequence": dice.integers("customer/sequence", 1, 40).tolist(),
        "phone": nullable(person.phone, person.has_phone),
        "tax_exempt": dice.pick("customer/tax_exempt", ("none", "exempt", "reverse"), (95, 3, 2)).tolist(),
        "updated": created.tolist(),
    }


def invoice_prefixes(dice: Dice) -> list[str]:
    return [f"{bits >> 32:08X}" for bits in dice.bits("customer/prefix").tolist()]


CUSTOMERS = SampleStream(
    name="customers",
    primary_key="id",
    cursor_field="created",
    cursor=CURSOR,
    fields=(
        Field("id", "string"),
        Field("object", "string", const="customer"),
        Field("address", "object", nullable=True, fields=ADDRESS_FIELDS),
        Field("balance", "integer"),
        Field("created", "integer"),
        _text("currency"),
        _null("default_source"),
        Field("delinquent", "boolean", nullable=True),
        _optional("description"),
        _null("discount", "object"),
        _optional("email"),
        Field("invoice_prefix", "string"),
        Field(
            "invoice_settings",
            "object",
            const={"custom_fields": None, "default_payment_method": None, "footer": None},
        ),
        LIVEMODE,
        Field("metadata", "object", fields=(Field("tier", "string"), Field("signup_source", "string"))),
        _text("name"),
        Field("next_invoice_sequence", "integer"),
        _optional("phone"),
        Field("preferred_locales", "array", items="string", const=["en"]),
        _null("shipping", "object"),
        Field("tax_exempt", "string"),
        _null("test_clock"),
        Field("updated", "integer"),
        Field("is_deleted", "boolean", const=False),
    ),
    timeline=lambda dice: timeline(dice, base=BASE, step=STEP, window=(0.0, 0.4), purpose="customer/created"),
    columns=_customer_columns,
)


# -------------------------------------------------------------------------------------------- charges


def _charge_columns(dice: Dice, created: np.ndarray) -> Columns:
    count = len(created)
    customer = dice.at(customer_of(dice))
    person = people(customer, "customer")
    place = places(customer, "customer")
    has_email = customer_has_email(customer)
    email = nullable(person.email, has_email)
    amount, pays_invoice = charge_amounts(dice)
    status = dice.pick("charge/status", CHARGE_STATUSES, CHARGE_WEIGHTS)
    status[pays_invoice | is_refunded(dice.index)] = "succeeded"
    paid = status == "succeeded"
    failed = status == "failed"
    failure = np.where(failed, dice.pick_index("charge/failure", len(FAILURES)), len(FAILURES))
    refunded_amount = refund_amounts(dice, amount)
    card = (
        (dice.pick_index("charge/brand", len(CARD_BRANDS), CARD_WEIGHTS) * len(CARD_FUNDING))
        + dice.pick_index("charge/funding", len(CARD_FUNDING), (60, 37, 3))
    ) * 12 * len(CARD_EXP_YEARS) + dice.integers("charge/expiry", 0, 12 * len(CARD_EXP_YEARS))
    paid_json = json_bools(paid)
    tables = _charge_tables()
    return {
        "id": random_ids("ch_", dice, "charge/id"),
        "amount": amount.tolist(),
        "amount_captured": np.where(paid, amount, 0).tolist(),
        "amount_refunded": refunded_amount.tolist(),
        "balance_transaction": nullable(random_ids("txn_", dice, "charge/txn"), ~failed),
        "address_country": place.country.tolist(),
        "address_postal_code": place.postal_code.tolist(),
        "billing_email": email,
        "billing_name": person.name.tolist(),
        "captured": paid_json,
        "currency": customer_currency(customer).tolist(),
        "customer": customer_ids(customer),
        "description": nullable(np.full(count, "Payment for Invoice", dtype=object), pays_invoice),
        "disputed": json_bools(paid & dice.chance("charge/disputed", 0.005)),
        "failure_code": tables.failure_codes[failure].tolist(),
        "failure_message": tables.failure_messages[failure].tolist(),
        "invoice": nullable(random_ids("in_", dice, "invoice/id"), pays_invoice),
        "outcome": tables.outcomes[failed * 100 + dice.integers("charge/risk", 0, 100)].tolist(),
        "paid": paid_json,
        "payment_intent": random_ids("pi_", dice, "charge/payment_intent"),
        "payment_method": random_ids("pm_", dice, "charge/payment_method"),
        "payment_method_details": tables.cards[card].tolist(),
        "receipt_email": email,
        "receipt_url": nullable(
            random_ids("https://pay.stripe.com/receipts/sample/ch_", dice, "charge/id"), paid
        ),
        "refunded": json_bools((refunded_amount == amount) & (refunded_amount > 0)),
        "status": status.tolist(),
        "updated": created.tolist(),
    }


CHARGES = SampleStream(
    name="charges",
    primary_key="id",
    cursor_field="created",
    cursor=CURSOR,
    fields=(
        Field("id", "string"),
        Field("object", "string", const="charge"),
        Field("amount", "integer"),
        Field("amount_captured", "integer"),
        Field("amount_refunded", "integer"),
        _null("application"),
        _null("application_fee"),
        _null("application_fee_amount", "integer"),
        _optional("balance_transaction"),
        Field(
            "billing_details",
            "object",
            fields=(
                Field("address", "object", nullable=True, fields=BILLING_ADDRESS_FIELDS),
                _optional("email", "billing_email"),
                _text("name", "billing_name"),
                _null("phone"),
            ),
        ),
        Field("calculated_statement_descriptor", "string", nullable=True, const="SAMPLE* ACME"),
        Field("captured", "boolean"),
        Field("created", "integer"),
        Field("currency", "string"),
        _text("customer"),
        _optional("description"),
        _null("destination"),
        _null("dispute"),
        Field("disputed", "boolean"),
        _null("failure_balance_transaction"),
        _optional("failure_code"),
        _optional("failure_message"),
        Field("fraud_details", "object", const={}),
        _optional("invoice"),
        LIVEMODE,
        EMPTY_METADATA,
        _null("on_behalf_of"),
        Field(
            "outcome",
            "object",
            nullable=True,
            as_json=True,
            fields=(
                Field("network_status", "string"),
                _optional("reason"),
                Field("risk_level", "string"),
                Field("risk_score", "integer"),
                Field("seller_message", "string"),
                Field("type", "string"),
            ),
        ),
        Field("paid", "boolean"),
        _text("payment_intent"),
        _text("payment_method"),
        Field(
            "payment_method_details",
            "object",
            nullable=True,
            as_json=True,
            fields=(
                Field(
                    "card",
                    "object",
                    fields=(
                        Field("brand", "string"),
                        Field("country", "string"),
                        Field("exp_month", "integer"),
                        Field("exp_year", "integer"),
                        Field("funding", "string"),
                        Field("last4", "string"),
                    ),
                ),
                Field("type", "string"),
            ),
        ),
        _optional("receipt_email"),
        _null("receipt_number"),
        _optional("receipt_url"),
        Field("refunded", "boolean"),
        _null("review"),
        _null("shipping", "object"),
        _null("source_transfer"),
        _null("statement_descriptor"),
        _null("statement_descriptor_suffix"),
        Field("status", "string"),
        _null("transfer_data", "object"),
        _null("transfer_group"),
        Field("updated", "integer"),
    ),
    timeline=charge_created,
    columns=_charge_columns,
)


# ------------------------------------------------------------------------------------------- invoices


def _invoice_columns(dice: Dice, created: np.ndarray) -> Columns:
    ids = random_ids("in_", dice, "invoice/id")
    customer = dice.at(customer_of(dice))
    person = people(customer, "customer")
    status = invoice_status(dice)
    paid = status == "paid"
    billed, subtotal, taxed, tax = invoice_amounts(dice)
    total = subtotal + tax
    finalized = status != "draft"
    numbers = (dice.index % 10_000 + 1).tolist()
    return {
        "id": ids,
        "amount_due": total.tolist(),
        "amount_paid": np.where(paid, total, 0).tolist(),
        "amount_remaining": np.where(paid | (status == "void"), 0, total).tolist(),
        "attempt_count": np.where(status == "uncollectible", 4, finalized.astype(np.int64)).tolist(),
        "attempted": json_bools(finalized),
        "auto_advance": json_bools(~paid & (status != "void")),
        "billing_reason": np.where(billed, "subscription_cycle", "manual").tolist(),
        "charge": nullable(random_ids("ch_", dice, "charge/id"), paid),
        "currency": customer_currency(customer).tolist(),
        "customer": customer_ids(customer),
        "customer_email": nullable(person.email, customer_has_email(customer)),
        "customer_name": person.name.tolist(),
        "ending_balance": nullable(np.zeros(len(ids), np.int64), finalized, quoted=False),
        "hosted_invoice_url": nullable(
            random_ids("https://invoice.stripe.com/i/sample/in_", dice, "invoice/id"), finalized
        ),
        "lines_url": random_ids("/v1/invoices/in_", dice, "invoice/id"),
        "number": nullable(
            [f"{p}-{n:04d}" for p, n in zip(invoice_prefixes(customer), numbers, strict=True)], finalized
        ),
        "paid": json_bools(paid),
        "period_end": created.tolist(),
        "period_start": (created - PERIOD).tolist(),
        "status": status.tolist(),
        "subscription": nullable(random_ids("sub_", dice, "subscription/id"), billed),
        "subtotal": subtotal.tolist(),
        "tax": nullable(tax, taxed, quoted=False),
        "total": total.tolist(),
        "updated": created.tolist(),
    }


INVOICES = SampleStream(
    name="invoices",
    primary_key="id",
    cursor_field="created",
    cursor=CURSOR,
    fields=(
        Field("id", "string"),
        Field("object", "string", const="invoice"),
        Field("account_country", "string", nullable=True, const="US"),
        Field("account_name", "string", nullable=True, const="Sample Co"),
        Field("amount_due", "integer"),
        Field("amount_paid", "integer"),
        Field("amount_remaining", "integer"),
        Field("attempt_count", "integer"),
        Field("attempted", "boolean"),
        Field("auto_advance", "boolean"),
        Field("billing_reason", "string"),
        _optional("charge"),
        Field("collection_method", "string", const="charge_automatically"),
        Field("created", "integer"),
        Field("currency", "string"),
        Field("customer", "string"),
        _optional("customer_email"),
        _text("customer_name"),
        _null("description"),
        _null("due_date", "integer"),
        Field("ending_balance", "integer", nullable=True),
        _optional("hosted_invoice_url"),
        Field(
            "lines",
            "object",
            fields=(
                Field("object", "string", const="list"),
                Field("has_more", "boolean", const=False),
                Field("total_count", "integer", const=1),
                Field("url", "string", column="lines_url"),
            ),
        ),
        LIVEMODE,
        EMPTY_METADATA,
        _optional("number"),
        Field("paid", "boolean"),
        Field("period_end", "integer"),
        Field("period_start", "integer"),
        _text("status"),
        _optional("subscription"),
        Field("subtotal", "integer"),
        Field("tax", "integer", nullable=True),
        Field("total", "integer"),
        Field("updated", "integer"),
    ),
    timeline=lambda dice: timeline(dice, base=BASE, step=STEP, window=(0.4, 0.6), purpose="invoice/created"),
    columns=_invoice_columns,
)


# -------------------------------------------------------------------------------------- subscriptions


def _subscription_columns(dice: Dice, created: np.ndarray) -> Columns:
    customer = dice.at(customer_of(dice))
    price_ids, product_ids = plan_catalog(dice.seed)
    plan = plan_index(dice)
    status = dice.pick("subscription/status", SUBSCRIPTION_STATUSES, SUBSCRIPTION_WEIGHTS)
    canceled = status == "canceled"
    trialing = status == "trialing"
    periods = dice.integers("subscription/periods", 0, 12)
    period_start = created + periods * PERIOD
    ended = created + (periods + 1) * PERIOD
    return {
        "id": random_ids("sub_", dice, "subscription/id"),
        "billing_cycle_anchor": created.tolist(),
        "cancel_at_period_end": json_bools(~canceled & dice.chance("subscription/cancel_at_end", 0.05)),
        "canceled_at": nullable(ended, canceled, quoted=False),
        "current_period_end": (period_start + PERIOD).tolist(),
        "current_period_start": period_start.tolist(),
        "customer": customer_ids(customer),
        "default_payment_method": random_ids("pm_", dice, "subscription/payment_method"),
        "ended_at": nullable(ended, canceled, quoted=False),
        "latest_invoice": random_ids("in_", dice, "invoice/id"),
        "plan_id": np.asarray(price_ids, dtype=object)[plan].tolist(),
        "plan_amount": _plan_amounts()[plan].tolist(),
        "plan_currency": customer_currency(customer).tolist(),
        "plan_nickname": np.asarray(PRODUCT_NAMES, dtype=object)[plan].tolist(),
        "plan_product": np.asarray(product_ids, dtype=object)[plan].tolist(),
        "quantity": subscription_quantity(dice).tolist(),
        "start_date": created.tolist(),
        "status": status.tolist(),
        "trial_end": nullable(created + 14 * DAY_SECONDS, trialing, quoted=False),
        "trial_start": nullable(created, trialing, quoted=False),
        "updated": created.tolist(),
    }


SUBSCRIPTIONS = SampleStream(
    name="subscriptions",
    primary_key="id",
    cursor_field="created",
    cursor=CURSOR,
    fields=(
        Field("id", "string"),
        Field("object", "string", const="subscription"),
        Field("billing_cycle_anchor", "integer"),
        _null("cancel_at", "integer"),
        Field("cancel_at_period_end", "boolean"),
        Field("canceled_at", "integer", nullable=True),
        Field("collection_method", "string", const="charge_automatically"),
        Field("created", "integer"),
        Field("current_period_end", "integer"),
        Field("current_period_start", "integer"),
        Field("customer", "string"),
        _null("days_until_due", "integer"),
        _text("default_payment_method"),
        Field("ended_at", "integer", nullable=True),
        _text("latest_invoice"),
        LIVEMODE,
        EMPTY_METADATA,
        Field(
            "plan",
            "object",
            nullable=True,
            fields=(
                Field("id", "string", column="plan_id"),
                Field("object", "string", const="plan"),
                Field("active", "boolean", const=True),
                Field("amount", "integer", column="plan_amount"),
                Field("currency", "string", column="plan_currency"),
                Field("interval", "string", const="month"),
                Field("interval_count", "integer", const=1),
                _text("nickname", "plan_nickname"),
                _text("product", "plan_product"),
            ),
        ),
        Field("quantity", "integer", nullable=True, quote=False),
        Field("start_date", "integer"),
        Field("status", "string"),
        Field("trial_end", "integer", nullable=True),
        Field("trial_start", "integer", nullable=True),
        Field("updated", "integer"),
    ),
    timeline=lambda dice: timeline(
        dice, base=BASE, step=STEP, window=(0.4, 0.6), purpose="subscription/created"
    ),
    columns=_subscription_columns,
)


# -------------------------------------------------------------------------------------------- refunds


def _refunded_charge(dice: Dice) -> Dice:
    return dice.at(dice.index * REFUND_EVERY + REFUND_OFFSET)


def _refund_created(dice: Dice) -> np.ndarray:
    """After its charge; strictly increasing since refunded charges are >= 9 steps apart."""
    delay = (dice.uniform("refund/delay") * STEP * 0.5).astype(np.int64)
    return charge_created(_refunded_charge(dice)) + REFUND_DELAY + delay


def _refund_columns(dice: Dice, created: np.ndarray) -> Columns:
    charge = _refunded_charge(dice)
    amount, _ = charge_amounts(charge)
    return {
        "id": random_ids("re_", dice, "refund/id"),
        "amount": refund_amounts(charge, amount).tolist(),
        "balance_transaction": random_ids("txn_", dice, "refund/txn"),
        "charge": random_ids("ch_", charge, "charge/id"),
        "currency": customer_currency(charge.at(customer_of(charge))).tolist(),
        "payment_intent": random_ids("pi_", charge, "charge/payment_intent"),
        "reason": dice.pick(
            "refund/reason", ("requested_by_customer", "duplicate", "fraudulent"), (75, 18, 7)
        ).tolist(),
    }


REFUNDS = SampleStream(
    name="refunds",
    primary_key="id",
    cursor_field="created",
    cursor=CURSOR,
    fields=(
        Field("id", "string"),
        Field("object", "string", const="refund"),
        Field("amount", "integer"),
        _text("balance_transaction"),
        _text("charge"),
        Field("created", "integer"),
        Field("currency", "string"),
        EMPTY_METADATA,
        _text("payment_intent"),
        _text("reason"),
        _null("receipt_number"),
        Field("status", "string", nullable=True, const="succeeded"),
    ),
    timeline=_refund_created,
    columns=_refund_columns,
    count=lambda records: max(0, (records - REFUND_OFFSET + REFUND_EVERY - 1) // REFUND_EVERY),
    size_note=f"one per {REFUND_EVERY} charges (the refunded ones)",
)

SHAPE = Shape(
    name="stripe",
    title="Stripe",
    streams=(CUSTOMERS, CHARGES, INVOICES, SUBSCRIPTIONS, REFUNDS),
)
